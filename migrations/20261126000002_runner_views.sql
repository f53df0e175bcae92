-- What the runner reads: streaks, statistics, records and run lists, computed in SQL and
-- returned as one JSON document each, so nothing ever pulls a user's rows through PostgREST
-- (Supabase caps responses at 1000 rows; the Python system's stats were silently wrong past it).
--
-- Every function excludes runs marked deleted and works on the run's own local date.

create index runs_user_start on public.runs (user_id, start_local desc, source_activity_id desc)
    where deleted_at is null;

-- One run as lists and records show it.
create function public.run_view(r public.runs)
returns jsonb
language sql
immutable
as $$
    select jsonb_build_object(
        'activity_id', r.source_activity_id,
        'date', r.local_date,
        'start_local', to_char(r.start_local, 'YYYY-MM-DD"T"HH24:MI:SS'),
        'distance_km', r.distance_km,
        'duration_s', r.duration_s,
        'pace_s_per_km', case when r.distance_km > 0 then r.duration_s / r.distance_km end,
        'heart_rate_avg', r.heart_rate_avg,
        'temperature_c', r.temperature_c,
        'is_treadmill', r.is_treadmill
    )
$$;

-- Whether PostgreSQL knows an IANA zone name (the same table `at time zone` uses).
create function public.time_zone_exists(p_name text)
returns boolean
language sql
stable
as $$
    select exists (select 1 from pg_catalog.pg_timezone_names where name = p_name)
$$;

-- Streak days are the local dates whose runs reach the user's minimum distance; consecutive
-- streak days form a streak ("gaps and islands"). The current streak is the one whose last day
-- is today or yesterday in the user's zone. `p_today` overrides today, for tests.
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
    days as (
        select local_date, count(*) as runs, sum(distance_km) as km
        from public.runs
        where user_id = p_user_id and deleted_at is null
        group by local_date
    ),
    streak_days as (
        select d.local_date, d.runs, d.km,
            d.local_date - (row_number() over (order by d.local_date))::integer as island
        from days d
        where d.km >= (select min_km from settings)
    ),
    streaks as (
        select
            min(local_date) as start_date,
            max(local_date) as end_date,
            count(*)::integer as days,
            sum(runs)::bigint as runs,
            sum(km) as distance_km
        from streak_days
        group by island
    ),
    ranked as (
        select s.*, row_number() over (order by s.days desc, s.end_date desc) as rank
        from streaks s
    ),
    current_streak as (
        select s.* from streaks s
        where s.end_date >= (select d from today) - 1
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
                        (select min_km from settings)
                            - coalesce((select km from days where local_date = t.d), 0),
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
        'run_count', (select coalesce(sum(runs), 0) from days)
    )
$$;

-- One pass over the user's runs (their rows are wide: the raw JSON is kept), then the
-- aggregates over that narrow copy; the longest run is read back by its primary key.
create function public.overall_stats(p_user_id uuid)
returns jsonb
language sql
stable
set search_path = public
as $$
    with r as materialized (
        select source, source_activity_id, start_local, local_date, distance_km, duration_s
        from public.runs
        where user_id = p_user_id and deleted_at is null
    ),
    longest as (
        select source, source_activity_id from r order by distance_km desc, start_local limit 1
    )
    select jsonb_build_object(
        'runs', count(*),
        'days_run', count(distinct r.local_date),
        'distance_km', coalesce(sum(r.distance_km), 0),
        'duration_s', coalesce(sum(r.duration_s), 0),
        'average_distance_km', avg(r.distance_km),
        'average_pace_s_per_km',
            sum(r.duration_s) filter (where r.distance_km > 0)
            / nullif(sum(r.distance_km) filter (where r.distance_km > 0), 0),
        'first_run', min(r.local_date),
        'last_run', max(r.local_date),
        'longest_run', (
            select public.run_view(x) from public.runs x, longest l
            where x.user_id = p_user_id and x.source = l.source
                and x.source_activity_id = l.source_activity_id
        )
    )
    from r
$$;

create function public.month_totals(p_user_id uuid)
returns table (
    month date, runs bigint, distance_km double precision, duration_s double precision
)
language sql
stable
set search_path = public
as $$
    select date_trunc('month', local_date)::date, count(*), sum(distance_km), sum(duration_s)
    from public.runs
    where user_id = p_user_id and deleted_at is null
    group by 1
$$;

create function public.month_view(p_month date, p_runs bigint, p_km double precision, p_s double precision)
returns jsonb
language sql
immutable
as $$
    select jsonb_build_object(
        'month', to_char(p_month, 'YYYY-MM'),
        'runs', p_runs,
        'distance_km', p_km,
        'duration_s', p_s,
        'average_distance_km', p_km / nullif(p_runs, 0),
        'average_pace_s_per_km', p_s / nullif(p_km, 0)
    )
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
        select * from public.month_totals(p_user_id) order by month desc limit greatest(p_limit, 0)
    ) m
$$;

-- Paces faster than 2:00 /km are recording errors (the marathon world record is about 2:53 /km),
-- so they never make a record. One pass over the runs, as in overall_stats.
create function public.records(p_user_id uuid, p_min_pace_distance_km double precision default 4.828032)
returns jsonb
language sql
stable
set search_path = public
as $$
    with r as materialized (
        select source, source_activity_id, start_local, local_date, distance_km, duration_s
        from public.runs
        where user_id = p_user_id and deleted_at is null
    ),
    longest as (
        select source, source_activity_id from r order by distance_km desc, start_local limit 1
    ),
    fastest as (
        select source, source_activity_id from r
        where distance_km >= p_min_pace_distance_km and duration_s / distance_km >= 120
        order by duration_s / distance_km, start_local
        limit 1
    ),
    best_month as (
        select date_trunc('month', local_date)::date as month, count(*) as runs,
            sum(distance_km) as km, sum(duration_s) as s
        from r group by 1 order by 3 desc, 1 limit 1
    ),
    best_week as (
        select date_trunc('week', local_date)::date as week_start, count(*) as runs,
            sum(distance_km) as km
        from r group by 1 order by 3 desc, 1 limit 1
    )
    select jsonb_build_object(
        'longest_run', (
            select public.run_view(x) from public.runs x, longest l
            where x.user_id = p_user_id and x.source = l.source
                and x.source_activity_id = l.source_activity_id
        ),
        'fastest_pace', (
            select public.run_view(x) from public.runs x, fastest f
            where x.user_id = p_user_id and x.source = f.source
                and x.source_activity_id = f.source_activity_id
        ),
        'fastest_pace_min_distance_km', p_min_pace_distance_km,
        'best_month', (select public.month_view(month, runs, km, s) from best_month),
        'best_week', (
            select jsonb_build_object('week_start', week_start, 'runs', runs, 'distance_km', km)
            from best_week
        )
    )
$$;

-- A page of runs, newest first, with the total matching the filters.
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
    select jsonb_build_object(
        'total', (
            select count(*) from public.runs
            where user_id = p_user_id and deleted_at is null
                and (p_since is null or local_date >= p_since)
                and (p_until is null or local_date <= p_until)
        ),
        'offset', p_offset,
        'limit', p_limit,
        'runs', coalesce((
            select jsonb_agg(public.run_view(r) order by r.start_local desc, r.source_activity_id desc)
            from (
                select * from public.runs
                where user_id = p_user_id and deleted_at is null
                    and (p_since is null or local_date >= p_since)
                    and (p_until is null or local_date <= p_until)
                order by start_local desc, source_activity_id desc
                limit greatest(p_limit, 0) offset greatest(p_offset, 0)
            ) r
        ), '[]'::jsonb)
    )
$$;

do $$
declare
    f text;
begin
    foreach f in array array[
        'public.run_view(public.runs)',
        'public.time_zone_exists(text)',
        'public.streak_summary(uuid, integer, date)',
        'public.overall_stats(uuid)',
        'public.month_totals(uuid)',
        'public.month_view(date, bigint, double precision, double precision)',
        'public.monthly_totals(uuid, integer)',
        'public.records(uuid, double precision)',
        'public.list_runs(uuid, date, date, integer, integer)'
    ] loop
        execute format('revoke all on function %s from public, anon, authenticated', f);
        execute format('grant execute on function %s to service_role', f);
    end loop;
end
$$;
