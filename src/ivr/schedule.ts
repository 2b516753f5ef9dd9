/**
 * Business-hours arithmetic for IVR conditions, in the flow's IANA timezone, with nothing but
 * `Intl.DateTimeFormat` (no date library, no I/O). `now` is always an argument. Shared by the
 * validator (is this a valid timezone / 'HH:MM' / 'YYYY-MM-DD'?) and the interpreter (is it
 * open now?).
 */
import { WEEKDAYS, type Test, type Weekday } from './flow.types';

export type BusinessHoursTest = Extract<Test, { kind: 'business-hours' }>;

export interface LocalTime {
  /** 'YYYY-MM-DD' in the timezone. */
  date: string;
  weekday: Weekday;
  /** Minutes since local midnight, 0..1439. */
  minutes: number;
}

// Formatters are costly to build and immutable once built; memoising them keeps `localTime`
// deterministic and cheap.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Minutes since midnight for 'HH:MM' (00:00..23:59, plus '24:00' = 1440 to end a day), or null. */
export function parseHm(hm: string): number | null {
  const m = /^(\d{2}):(\d{2})$/.exec(hm);
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h === 24 && min === 0) return 1440;
  if (h > 23 || min > 59) return null;
  return h * 60 + min;
}

/** A real calendar date written 'YYYY-MM-DD'. */
export function isValidDate(ymd: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** The wall-clock date, weekday and time of `now` in `timeZone`. Throws on an unknown timezone. */
export function localTime(now: Date, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(now)) parts[p.type] = p.value;
  const weekday = (parts.weekday ?? '').toLowerCase().slice(0, 3) as Weekday;
  if (!WEEKDAYS.includes(weekday)) throw new Error(`unexpected weekday "${parts.weekday}"`);
  const hour = Number(parts.hour) % 24; // some ICU builds still print 24 at midnight
  return { date: `${parts.year}-${parts.month}-${parts.day}`, weekday, minutes: hour * 60 + Number(parts.minute) };
}

/** Open when today is not a holiday and the local time falls in one of today's ranges. */
export function isOpen(test: BusinessHoursTest, now: Date, timeZone: string): boolean {
  const local = localTime(now, timeZone);
  if (test.holidays?.includes(local.date)) return false;
  return (test.hours[local.weekday] ?? []).some(([from, to]) => {
    const start = parseHm(from);
    const end = parseHm(to);
    return start !== null && end !== null && local.minutes >= start && local.minutes < end;
  });
}
