// Schedules, shared by segment evaluation and audience syncs.
import { builder } from '../builder.js';
import { ScheduleKind } from '../../generated/prisma/enums.js';
import { describeSchedule, type Schedule } from '../../jobs/schedule.js';

export const ScheduleKindEnum = builder.enumType(ScheduleKind, { name: 'ScheduleKind' });

export const ScheduleRef = builder.objectRef<Schedule & { nextAt: Date | null }>('Schedule').implement({
  fields: (t) => ({
    kind: t.field({ type: ScheduleKindEnum, resolve: (s) => s.kind }),
    cron: t.string({ nullable: true, resolve: (s) => s.cron ?? null }),
    timezone: t.string({ nullable: true, resolve: (s) => s.timezone ?? null }),
    description: t.string({ description: 'In words, e.g. "daily at 00:00 UTC".', resolve: (s) => describeSchedule(s) }),
    nextAt: t.field({ type: 'DateTime', nullable: true, description: 'When it next runs; null when manual.', resolve: (s) => s.nextAt }),
  }),
});

export const ScheduleInput = builder.inputType('ScheduleInput', {
  fields: (t) => ({
    kind: t.field({ type: ScheduleKindEnum, required: true }),
    cron: t.string({ description: 'For CRON: minute hour day-of-month month day-of-week.' }),
    timezone: t.string({ description: 'IANA time zone, e.g. Europe/Paris; default UTC.' }),
  }),
});
