-- The runner's views read summaries kept current with the runs, not scans of the runs.
--
-- `/streak`, `/stats`, `/records` and `/stats/monthly` aggregated every run of the user on each
-- call (20,000 runs: 77 to 112 ms), and `records` planned a sequential scan of every user's runs.
-- Now each run's write updates, in its own transaction, per-user summaries:
--
-- - `run_days`: one row per local date with runs (count, distance, duration);
-- - `run_weeks`, `run_months`: the same per ISO week and per calendar month, from `run_days`;
-- - `run_totals`: one row per user, from `run_months`;
-- - `streaks`: the user's streaks ("islands" of consecutive streak days under the user's
--   minimum distance), recomputed only around the dates that changed.
--
-- Statement-level triggers on `runs` (inserts, updates, deletes, with their transition tables)
-- call `refresh_run_summaries` once per user and statement with the dates whose runs changed,
-- so every writer keeps them true: `upsert_runs`, `reconcile_listing`, the tests' direct SQL. A
-- change of the streak minimum rebuilds that user's streaks once. The time zone only decides
-- "today" at read time, so a change of zone recomputes nothing.
--
-- The functions that computed the views from the runs stay, renamed `*_from_scratch`: they are
-- the reference the maintained views are checked against (`stk-local check`, the property test).
-- `list_runs` counts its total from the summaries too, and finds a deep page's first day there.
--
-- Every sum over several rows is taken in a fixed order (`sum(x order by x)`), so that a day's
-- distance, which decides whether it is a streak day, never depends on the rows' physical order.

alter function public.streak_summary(uuid, integer, date) rename to streak_summary_from_scratch;
alter function public.overall_stats(uuid) rename to overall_stats_from_scratch;
alter function public.monthly_totals(uuid, integer) rename to monthly_totals_from_scratch;
alter function public.records(uuid, double precision) rename to records_from_scratch;
alter function public.list_runs(uuid, date, date, integer, integer) rename to list_runs_from_scratch;

create table public.run_days (
    user_id uuid not null references public.users (id) on delete cascade,
    local_date date not null,
    runs integer not null,
    distance_km double precision not null,
    duration_s double precision not null,
    -- The duration of the runs that have a distance: what average paces divide.
    paced_duration_s double precision not null,
    primary key (user_id, local_date)
);

create table public.run_weeks (
    user_id uuid not null references public.users (id) on delete cascade,
    -- Monday, as `date_trunc('week', ...)` gives it.
    week_start date not null,
    runs integer not null,
    distance_km double precision not null,
    primary key (user_id, week_start)
);
create index run_weeks_farthest on public.run_weeks (user_id, distance_km desc, week_start);

create table public.run_months (
    user_id uuid not null references public.users (id) on delete cascade,
    month date not null,
    runs integer not null,
    days integer not null,
    distance_km double precision not null,
    duration_s double precision not null,
    paced_duration_s double precision not null,
    primary key (user_id, month)
);
create index run_months_farthest on public.run_months (user_id, distance_km desc, month);

create table public.run_totals (
    user_id uuid primary key references public.users (id) on delete cascade,
    runs bigint not null,
    days_run bigint not null,
    distance_km double precision not null,
    duration_s double precision not null,
    paced_duration_s double precision not null
);

create table public.streaks (
    user_id uuid not null references public.users (id) on delete cascade,
    start_date date not null,
    end_date date not null,
    days integer not null,
    runs bigint not null,
    distance_km double precision not null,
    primary key (user_id, start_date)
);
create index streaks_by_end on public.streaks (user_id, end_date desc);
create index streaks_by_length on public.streaks (user_id, days desc, end_date desc);

-- The records' longest run and fastest pace, read from the top of an index.
create index runs_user_farthest on public.runs (user_id, distance_km desc, start_local)
    where deleted_at is null;
create index runs_user_fastest on public.runs (user_id, (duration_s / distance_km), start_local)
    where deleted_at is null and distance_km > 0 and duration_s / distance_km >= 120;

alter table public.run_days enable row level security;
alter table public.run_weeks enable row level security;
alter table public.run_months enable row level security;
alter table public.run_totals enable row level security;
alter table public.streaks enable row level security;
revoke all on public.run_days, public.run_weeks, public.run_months, public.run_totals,
    public.streaks from anon, authenticated;
grant all on public.run_days, public.run_weeks, public.run_months, public.run_totals,
    public.streaks to service_role;

-- Rebuilds the user's streaks whose days lie between p_from and p_to. The caller has widened
-- the range to whole streaks, so the days just outside it are not streak days and stay so.
create function public.rebuild_streaks(p_user_id uuid, p_min_km double precision, p_from date, p_to date)
returns void
language sql
volatile
set search_path = public
as $$
    delete from public.streaks
    where user_id = p_user_id and start_date between p_from and p_to;

    insert into public.streaks (user_id, start_date, end_date, days, runs, distance_km)
    select p_user_id, min(local_date), max(local_date), count(*), sum(runs),
        sum(distance_km order by local_date)
    from (
        select local_date, runs, distance_km,
            local_date - (row_number() over (order by local_date))::integer as island
        from public.run_days
        where user_id = p_user_id and local_date between p_from and p_to
            and distance_km >= p_min_km
    ) d
    group by island;
$$;

-- Brings the user's summaries up to date after the runs of `p_dates` changed.
create function public.refresh_run_summaries(p_user_id uuid, p_dates date[])
returns void
language plpgsql
volatile
set search_path = public
as $$
declare
    v_min_km double precision;
    v_weeks date[];
    v_months date[];
    v_from date;
    v_to date;
    v_edge date;
begin
    -- One writer per user at a time: the summaries are recomputed from what is committed.
    select u.min_streak_distance_km into v_min_km
    from public.users u where u.id = p_user_id
    for no key update;
    if not found or coalesce(cardinality(p_dates), 0) = 0 then
        return;
    end if;

    -- Each statement below reads and writes the summaries by their keys, one probe per date,
    -- week or month, never a scan of the user's rows: a batch costs the same in a long history.
    delete from public.run_days d
    using unnest(p_dates) as c (local_date)
    where d.user_id = p_user_id and d.local_date = c.local_date;
    insert into public.run_days (user_id, local_date, runs, distance_km, duration_s, paced_duration_s)
    select p_user_id, r.local_date, count(*),
        sum(r.distance_km order by r.distance_km),
        sum(r.duration_s order by r.duration_s),
        coalesce(sum(r.duration_s order by r.duration_s) filter (where r.distance_km > 0), 0)
    from public.runs r
    where r.user_id = p_user_id and r.local_date = any (p_dates) and r.deleted_at is null
    group by r.local_date;

    select array_agg(distinct date_trunc('week', d)::date), array_agg(distinct date_trunc('month', d)::date)
    into v_weeks, v_months
    from unnest(p_dates) d;

    delete from public.run_weeks r
    using unnest(v_weeks) as c (week_start)
    where r.user_id = p_user_id and r.week_start = c.week_start;
    insert into public.run_weeks (user_id, week_start, runs, distance_km)
    select p_user_id, w.week_start, s.runs, s.distance_km
    from unnest(v_weeks) as w (week_start)
    cross join lateral (
        select sum(d.runs) as runs, sum(d.distance_km order by d.local_date) as distance_km
        from public.run_days d
        where d.user_id = p_user_id and d.local_date >= w.week_start
            and d.local_date < w.week_start + 7
    ) s
    where s.runs is not null;

    delete from public.run_months r
    using unnest(v_months) as c (month)
    where r.user_id = p_user_id and r.month = c.month;
    insert into public.run_months (user_id, month, runs, days, distance_km, duration_s, paced_duration_s)
    select p_user_id, m.month, s.runs, s.days, s.distance_km, s.duration_s, s.paced_duration_s
    from unnest(v_months) as m (month)
    cross join lateral (
        select sum(d.runs) as runs, count(*) as days,
            sum(d.distance_km order by d.local_date) as distance_km,
            sum(d.duration_s order by d.local_date) as duration_s,
            sum(d.paced_duration_s order by d.local_date) as paced_duration_s
        from public.run_days d
        where d.user_id = p_user_id and d.local_date >= m.month
            and d.local_date < (m.month + interval '1 month')::date
    ) s
    where s.runs is not null;

    insert into public.run_totals as t (user_id, runs, days_run, distance_km, duration_s, paced_duration_s)
    select p_user_id, coalesce(sum(runs), 0), coalesce(sum(days), 0),
        coalesce(sum(distance_km order by month), 0),
        coalesce(sum(duration_s order by month), 0),
        coalesce(sum(paced_duration_s order by month), 0)
    from public.run_months where user_id = p_user_id
    on conflict (user_id) do update set
        runs = excluded.runs,
        days_run = excluded.days_run,
        distance_km = excluded.distance_km,
        duration_s = excluded.duration_s,
        paced_duration_s = excluded.paced_duration_s;

    -- Streaks: the changed dates, widened to the whole streaks that touch them or the days
    -- beside them (a new streak day can join two streaks).
    select min(d), max(d) into v_from, v_to from unnest(p_dates) d;
    select s.start_date into v_edge
    from public.streaks s
    where s.user_id = p_user_id and s.end_date >= v_from - 1
    order by s.end_date
    limit 1;
    if v_edge is not null and v_edge < v_from then
        v_from := v_edge;
    end if;
    v_edge := null;
    select s.end_date into v_edge
    from public.streaks s
    where s.user_id = p_user_id and s.start_date <= v_to + 1
    order by s.start_date desc
    limit 1;
    if v_edge is not null and v_edge > v_to then
        v_to := v_edge;
    end if;
    perform public.rebuild_streaks(p_user_id, v_min_km, v_from, v_to);
end
$$;

-- The dates whose runs were inserted or deleted, per user, from the statement's transition
-- table (both triggers name it `changed_runs`).
create function public.runs_inserted_or_deleted() returns trigger
language plpgsql
set search_path = public
as $$
begin
    perform public.refresh_run_summaries(c.user_id, c.dates)
    from (
        select user_id, array_agg(distinct local_date) as dates
        from changed_runs where deleted_at is null
        group by user_id order by user_id
    ) c;
    return null;
end
$$;

-- An update matters when it moves a run to another day, changes what it counts, or marks or
-- unmarks it deleted; the days it leaves and the days it joins are both refreshed.
create function public.runs_updated() returns trigger
language plpgsql
set search_path = public
as $$
begin
    perform public.refresh_run_summaries(c.user_id, c.dates)
    from (
        select user_id, array_agg(distinct local_date) as dates
        from (
            select m.user_id, day.local_date
            from (
                select o.user_id,
                    case when o.deleted_at is null then o.local_date end as left_day,
                    case when n.deleted_at is null then n.local_date end as joined_day
                from old_runs o
                join new_runs n using (user_id, source, source_activity_id)
                where (o.local_date, o.distance_km, o.duration_s, o.deleted_at is null)
                    is distinct from (n.local_date, n.distance_km, n.duration_s, n.deleted_at is null)
            ) m
            cross join lateral (values (m.left_day), (m.joined_day)) as day (local_date)
            where day.local_date is not null
        ) changed
        group by user_id order by user_id
    ) c;
    return null;
end
$$;

create trigger runs_summaries_after_insert after insert on public.runs
    referencing new table as changed_runs
    for each statement execute function public.runs_inserted_or_deleted();
create trigger runs_summaries_after_update after update on public.runs
    referencing old table as old_runs new table as new_runs
    for each statement execute function public.runs_updated();
create trigger runs_summaries_after_delete after delete on public.runs
    referencing old table as changed_runs
    for each statement execute function public.runs_inserted_or_deleted();

-- A new streak minimum rebuilds the user's streaks, once.
create function public.streak_minimum_changed() returns trigger
language plpgsql
set search_path = public
as $$
begin
    perform public.rebuild_streaks(new.id, new.min_streak_distance_km, '-infinity', 'infinity');
    return null;
end
$$;

create trigger users_streak_minimum_changed
    after update of min_streak_distance_km on public.users
    for each row
    when (old.min_streak_distance_km is distinct from new.min_streak_distance_km)
    execute function public.streak_minimum_changed();

-- A user's summaries rebuilt from their runs alone: every date that has runs or a summary row,
-- then every streak. For the runs already stored, and for an operator after a restore that
-- wrote `runs` with its triggers disabled (see the runbook).
create function public.rebuild_run_summaries(p_user_id uuid)
returns void
language plpgsql
volatile
set search_path = public
as $$
begin
    perform public.refresh_run_summaries(p_user_id, array(
        select r.local_date from public.runs r where r.user_id = p_user_id
        union
        select d.local_date from public.run_days d where d.user_id = p_user_id
    ));
    perform public.rebuild_streaks(p_user_id, u.min_streak_distance_km, '-infinity', 'infinity')
    from public.users u where u.id = p_user_id;
end
$$;

select public.rebuild_run_summaries(u.id) from public.users u;

-- The views, from the summaries. Each reads a few rows through an index on the user, and
-- answers the same document as its `*_from_scratch` reference (the property test in
-- dev/local/tests/summaries.rs holds them to it), which is why their last parts read alike.

create function public.streak_summary(p_user_id uuid, p_top integer default 5, p_today date default null)
returns jsonb
language sql
stable
set search_path = public
as $$
    with settings as (
        select
            coalesce(u.time_zone, 'UTC') as tz,
            u.time_zone is not null as tz_set,
            u.min_streak_distance_km as min_km
        from public.users u
        where u.id = p_user_id
    ),
    today as (
        select coalesce(p_today, (now() at time zone (select tz from settings))::date) as d
    ),
    ranked as (
        select s.*, row_number() over (order by s.days desc, s.end_date desc) as rank
        from (
            select * from public.streaks
            where user_id = p_user_id
            order by days desc, end_date desc
            limit greatest(p_top, 1)
        ) s
    ),
    current_streak as (
        select s.* from public.streaks s
        where s.user_id = p_user_id and s.end_date >= (select d from today) - 1
        order by s.end_date desc
        limit 1
    ),
    longest as (
        select * from ranked where rank = 1
    )
    select jsonb_build_object(
        'today', (select d from today),
        'time_zone', coalesce((select tz from settings), 'UTC'),
        'time_zone_set', coalesce((select tz_set from settings), false),
        'min_streak_distance_km', coalesce((select min_km from settings), 0),
        'current', (
            select jsonb_build_object(
                'start', c.start_date,
                'end', c.end_date,
                'days', c.days,
                'runs', c.runs,
                'distance_km', c.distance_km,
                'today_done', c.end_date >= t.d,
                'days_to_record', greatest(coalesce((select days from longest), 0) - c.days, 0),
                'distance_due_today_km', case
                    when c.end_date >= t.d then 0
                    else greatest(
                        (select min_km from settings) - coalesce((
                            select rd.distance_km from public.run_days rd
                            where rd.user_id = p_user_id and rd.local_date = t.d
                        ), 0),
                        0)
                end
            )
            from current_streak c, today t
        ),
        'longest', (
            select jsonb_build_object(
                'start', start_date, 'end', end_date, 'days', days, 'runs', runs,
                'distance_km', distance_km)
            from longest
        ),
        'top', coalesce((
            select jsonb_agg(jsonb_build_object(
                'start', start_date, 'end', end_date, 'days', days, 'runs', runs,
                'distance_km', distance_km) order by rank)
            from ranked
            where rank <= greatest(p_top, 0)
        ), '[]'::jsonb),
        'run_count', coalesce((
            select t.runs from public.run_totals t where t.user_id = p_user_id
        ), 0)
    )
$$;

-- The user's longest run: the top of `runs_user_farthest`.
create function public.longest_run(p_user_id uuid)
returns jsonb
language sql
stable
set search_path = public
as $$
    select public.run_view(r) from public.runs r
    where r.user_id = p_user_id and r.deleted_at is null
    order by r.distance_km desc, r.start_local
    limit 1
$$;

create function public.overall_stats(p_user_id uuid)
returns jsonb
language sql
stable
set search_path = public
as $$
    select jsonb_build_object(
        'runs', coalesce(t.runs, 0),
        'days_run', coalesce(t.days_run, 0),
        'distance_km', coalesce(t.distance_km, 0),
        'duration_s', coalesce(t.duration_s, 0),
        'average_distance_km', t.distance_km / nullif(t.runs, 0),
        'average_pace_s_per_km', t.paced_duration_s / nullif(t.distance_km, 0),
        'first_run', (
            select min(d.local_date) from public.run_days d where d.user_id = p_user_id
        ),
        'last_run', (
            select max(d.local_date) from public.run_days d where d.user_id = p_user_id
        ),
        'longest_run', public.longest_run(p_user_id)
    )
    from (select 1) one
    left join public.run_totals t on t.user_id = p_user_id
$$;

-- Newest month first; months without runs are left out.
create function public.monthly_totals(p_user_id uuid, p_limit integer default 12)
returns jsonb
language sql
stable
set search_path = public
as $$
    select jsonb_build_object('months', coalesce(jsonb_agg(
        public.month_view(m.month, m.runs, m.distance_km, m.duration_s) order by m.month desc), '[]'::jsonb))
    from (
        select * from public.run_months
        where user_id = p_user_id
        order by month desc
        limit greatest(p_limit, 0)
    ) m
$$;

-- Paces faster than 2:00 /km are recording errors (see records_from_scratch).
create function public.records(p_user_id uuid, p_min_pace_distance_km double precision default 4.828032)
returns jsonb
language sql
stable
set search_path = public
as $$
    select jsonb_build_object(
        'longest_run', public.longest_run(p_user_id),
        'fastest_pace', (
            select public.run_view(r) from public.runs r
            where r.user_id = p_user_id and r.deleted_at is null and r.distance_km > 0
                and r.duration_s / r.distance_km >= 120
                and r.distance_km >= p_min_pace_distance_km
            order by r.duration_s / r.distance_km, r.start_local
            limit 1
        ),
        'fastest_pace_min_distance_km', p_min_pace_distance_km,
        'best_month', (
            select public.month_view(m.month, m.runs, m.distance_km, m.duration_s)
            from public.run_months m
            where m.user_id = p_user_id
            order by m.distance_km desc, m.month
            limit 1
        ),
        'best_week', (
            select jsonb_build_object('week_start', w.week_start, 'runs', w.runs, 'distance_km', w.distance_km)
            from public.run_weeks w
            where w.user_id = p_user_id
            order by w.distance_km desc, w.week_start
            limit 1
        )
    )
$$;

-- A run's local date is the date of its wall-clock start (`stk_core::activity::Run`); said here
-- so that `list_runs` can read a range of dates, or skip whole days, along `runs_user_start`.
alter table public.runs
    add constraint runs_local_date_is_the_start_date check (local_date = start_local::date);

-- A page of runs, newest first, with the total matching the filters, both from the summaries:
-- the total is the user's count or the range's days; a deep page of the whole list starts at
-- the day the summaries place it on (the months after it, then that month's days after it, are
-- counted instead of read run by run), so its cost does not grow with the offset.
create function public.list_runs(
    p_user_id uuid,
    p_since date default null,
    p_until date default null,
    p_limit integer default 50,
    p_offset integer default 0
)
returns jsonb
language sql
stable
set search_path = public
as $$
    with total as (
        select case
            when p_since is null and p_until is null then coalesce((
                select t.runs from public.run_totals t where t.user_id = p_user_id
            ), 0)
            else (
                select coalesce(sum(d.runs), 0) from public.run_days d
                where d.user_id = p_user_id
                    and d.local_date between coalesce(p_since, '-infinity') and coalesce(p_until, 'infinity')
            )
        end as runs
    ),
    skip_month as (
        select m.month, m.later
        from (
            select month, runs, coalesce(sum(runs) over (
                order by month desc rows between unbounded preceding and 1 preceding), 0) as later
            from public.run_months
            where user_id = p_user_id and p_since is null and p_until is null and p_offset > 0
        ) m
        where m.later + m.runs > p_offset
        order by m.month desc
        limit 1
    ),
    skip_day as (
        select d.local_date, d.later
        from (
            select rd.local_date, rd.runs, s.later + coalesce(sum(rd.runs) over (
                order by rd.local_date desc rows between unbounded preceding and 1 preceding), 0) as later
            from skip_month s
            join public.run_days rd
                on rd.user_id = p_user_id and rd.local_date >= s.month
                and rd.local_date < (s.month + interval '1 month')::date
        ) d
        where d.later + d.runs > p_offset
        order by d.local_date desc
        limit 1
    ),
    page_start as (
        select
            coalesce((select local_date from skip_day), p_until) + 1 as before_date,
            coalesce((select later from skip_day), 0) as skipped
    )
    select jsonb_build_object(
        'total', (select runs from total),
        'offset', p_offset,
        'limit', p_limit,
        'runs', coalesce((
            select jsonb_agg(public.run_view(r) order by r.start_local desc, r.source_activity_id desc)
            from (
                select * from public.runs
                where user_id = p_user_id and deleted_at is null
                    and (p_since is null or start_local >= p_since::timestamp)
                    and start_local < coalesce((select before_date from page_start), 'infinity')::timestamp
                    and p_offset < (select runs from total)
                order by start_local desc, source_activity_id desc
                limit greatest(p_limit, 0)
                offset greatest(p_offset - (select skipped from page_start), 0)
            ) r
        ), '[]'::jsonb)
    )
$$;

do $$
declare
    f text;
begin
    foreach f in array array[
        'public.rebuild_streaks(uuid, double precision, date, date)',
        'public.refresh_run_summaries(uuid, date[])',
        'public.rebuild_run_summaries(uuid)',
        'public.runs_inserted_or_deleted()',
        'public.runs_updated()',
        'public.streak_minimum_changed()',
        'public.streak_summary(uuid, integer, date)',
        'public.longest_run(uuid)',
        'public.overall_stats(uuid)',
        'public.monthly_totals(uuid, integer)',
        'public.records(uuid, double precision)',
        'public.streak_summary_from_scratch(uuid, integer, date)',
        'public.overall_stats_from_scratch(uuid)',
        'public.monthly_totals_from_scratch(uuid, integer)',
        'public.records_from_scratch(uuid, double precision)',
        'public.list_runs(uuid, date, date, integer, integer)',
        'public.list_runs_from_scratch(uuid, date, date, integer, integer)'
    ] loop
        execute format('revoke all on function %s from public, anon, authenticated', f);
        execute format('grant execute on function %s to service_role', f);
    end loop;
end
$$;
