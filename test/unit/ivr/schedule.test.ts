import { isOpen, isValidDate, isValidTimeZone, localTime, parseHm, type BusinessHoursTest } from '../../../src/ivr/schedule';

describe('localTime', () => {
  it.each<[string, string, string, string, number]>([
    ['2024-01-08T03:00:00Z', 'UTC', '2024-01-08', 'mon', 3 * 60],
    ['2024-01-08T03:00:00Z', 'America/Los_Angeles', '2024-01-07', 'sun', 19 * 60],
    ['2024-01-08T08:00:00Z', 'America/Los_Angeles', '2024-01-08', 'mon', 0],
    ['2024-01-07T20:00:00Z', 'Asia/Kolkata', '2024-01-08', 'mon', 90],
    ['2024-12-31T10:30:00Z', 'Pacific/Kiritimati', '2025-01-01', 'wed', 30],
    ['2024-03-10T09:59:00Z', 'America/Los_Angeles', '2024-03-10', 'sun', 1 * 60 + 59],
    ['2024-03-10T10:00:00Z', 'America/Los_Angeles', '2024-03-10', 'sun', 3 * 60],
    ['2024-10-27T00:30:00Z', 'Europe/Berlin', '2024-10-27', 'sun', 2 * 60 + 30],
    ['2024-10-27T01:30:00Z', 'Europe/Berlin', '2024-10-27', 'sun', 2 * 60 + 30],
  ])('%s in %s is %s %s, minute %i', (iso, tz, date, weekday, minutes) => {
    expect(localTime(new Date(iso), tz)).toEqual({ date, weekday, minutes });
  });
});

describe('parseHm', () => {
  it.each<[string, number | null]>([
    ['00:00', 0],
    ['09:30', 570],
    ['23:59', 1439],
    ['24:00', 1440],
    ['24:01', null],
    ['9:30', null],
    ['09:60', null],
    ['0930', null],
    [' 09:30', null],
  ])('%s → %p', (hm, expected) => {
    expect(parseHm(hm)).toBe(expected);
  });
});

describe('isValidDate / isValidTimeZone', () => {
  it.each<[string, boolean]>([
    ['2024-02-29', true],
    ['2023-02-29', false],
    ['2025-04-31', false],
    ['2025-00-10', false],
    ['2025-1-10', false],
    ['2025-12-25', true],
  ])('date %s → %p', (d, ok) => expect(isValidDate(d)).toBe(ok));
  it.each<[string, boolean]>([
    ['UTC', true],
    ['America/Los_Angeles', true],
    ['Europe/Berlin', true],
    ['Mars/Base', false],
    ['', false],
  ])('timezone %p → %p', (tz, ok) => expect(isValidTimeZone(tz)).toBe(ok));
});

describe('isOpen', () => {
  const weekdays: BusinessHoursTest = {
    kind: 'business-hours',
    hours: { mon: [['09:00', '12:00'], ['13:00', '17:00']], sat: [['10:00', '24:00']] },
    holidays: ['2024-01-15'],
  };
  it.each<[string, string, string, boolean]>([
    ['opening minute', '2024-01-08T09:00:00Z', 'UTC', true],
    ['before opening', '2024-01-08T08:59:00Z', 'UTC', false],
    ['lunch gap', '2024-01-08T12:30:00Z', 'UTC', false],
    ['last open minute', '2024-01-08T16:59:00Z', 'UTC', true],
    ['closing minute (end is exclusive)', '2024-01-08T17:00:00Z', 'UTC', false],
    ['a day with no hours', '2024-01-09T10:00:00Z', 'UTC', false],
    ['until 24:00', '2024-01-13T23:59:00Z', 'UTC', true],
    ['holiday', '2024-01-15T10:00:00Z', 'UTC', false],
    ['holiday is a local date', '2024-01-15T02:00:00Z', 'America/Los_Angeles', false],
    ['09:00 in Los Angeles is 17:00 UTC', '2024-01-08T17:00:00Z', 'America/Los_Angeles', true],
    ['09:00 UTC is 01:00 in Los Angeles', '2024-01-08T09:00:00Z', 'America/Los_Angeles', false],
  ])('%s', (_name, iso, tz, open) => {
    expect(isOpen(weekdays, new Date(iso), tz)).toBe(open);
  });

  it('uses the weekday in the timezone: Monday 03:00 UTC is Sunday 19:00 in Los Angeles', () => {
    const mondays: BusinessHoursTest = { kind: 'business-hours', hours: { mon: [['00:00', '24:00']] } };
    const instant = new Date('2024-01-08T03:00:00Z');
    expect(isOpen(mondays, instant, 'UTC')).toBe(true);
    expect(isOpen(mondays, instant, 'America/Los_Angeles')).toBe(false);
  });
});
