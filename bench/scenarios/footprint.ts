import type { ScenarioResult } from '../lib/results';
export async function footprintScenario(_opts: { agents: number; visitors: number; openChats: number; processes: number }): Promise<ScenarioResult> {
  throw new Error('not yet');
}
