/**
 * Pure escalation rules. A queue's escalation steps fire in order as an interaction's wait
 * crosses each threshold. Priority rules (raise priority for customers with an attribute, such
 * as VIP) are evaluated by the router when it reads waiting work, so a customer marked VIP while
 * waiting moves up at once.
 */
export type EscalationStep =
  | { afterSeconds: number; action: 'raise-priority'; by: number }
  | { afterSeconds: number; action: 'relax-skills'; by: number }
  | { afterSeconds: number; action: 'overflow'; queueId: string };

export interface PriorityRule {
  attribute: string;
  equals: string | number | boolean;
  raiseBy: number;
}

/** Steps (with their index) that are due and not applied yet, in order. */
export function dueSteps(steps: EscalationStep[], applied: number, waitedSeconds: number): Array<{ index: number; step: EscalationStep }> {
  const due: Array<{ index: number; step: EscalationStep }> = [];
  for (let index = applied; index < steps.length; index++) {
    const step = steps[index]!;
    if (waitedSeconds < step.afterSeconds) break;
    due.push({ index, step });
    if (step.action === 'overflow') break; // the next queue's own steps take over
  }
  return due;
}
