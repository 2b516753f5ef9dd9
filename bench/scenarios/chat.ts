import type { ScenarioResult } from '../lib/results';
export async function chatScenario(_opts: { chats: number; agents: number; seconds: number; intervalMs: number }): Promise<ScenarioResult> {
  throw new Error('not yet');
}
