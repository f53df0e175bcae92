-- Core schema: users, their linked sources (with encrypted tokens), API keys and runs.
--
-- Row level security is enabled on every table with no policy at all for `anon` or
-- `authenticated`: only the service role (which bypasses RLS) reaches the data. The Python
-- system leaked every user's tokens through a policy with `OR auth.uid() IS NULL`; having no
-- policy is the only policy that cannot be written wrong.

create extension if not exists pgcrypto;

create table public.users (
    id uuid primary key default gen_random_uuid(),
    display_name text,
    -- IANA zone name; null until the runner sets one.
    time_zone text,
    -- Minimum distance a day's runs must reach to count as a streak day (0 = any run).
    min_streak_distance_km double precision not null default 0
        check (min_streak_distance_km >= 0 and min_streak_distance_km <= 100),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table public.user_sources (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references public.users (id) on delete cascade,
    source text not null check (source in ('smashrun')),
    source_user_id text not null,
    source_user_name text,
    -- AES-256-GCM ciphertext of the token pair, authenticated with the user id and the source
    -- as associated data so a ciphertext copied to another row does not decrypt.
    tokens_ciphertext text not null,
    token_expires_at timestamptz not null,
    token_refreshed_at timestamptz not null,
    -- Incremental syncs ask SmashRun for what changed since this instant (minus an overlap).
    sync_cursor timestamptz,
    last_sync_at timestamptz,
    active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (source, source_user_id),
    unique (user_id, source, source_user_id)
);
create index user_sources_user_id on public.user_sources (user_id);

create table public.api_keys (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references public.users (id) on delete cascade,
    -- SHA-256 of the key, hex. The key itself is shown once and never stored.
    key_hash text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
    -- First characters of the key, so a runner can tell their keys apart.
    key_prefix text not null,
    label text,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
create index api_keys_user_id on public.api_keys (user_id);

create table public.runs (
    user_id uuid not null references public.users (id) on delete cascade,
    source text not null,
    source_activity_id bigint not null,
    -- Wall-clock start as SmashRun gives it, and its UTC offset when SmashRun gave one.
    start_local timestamp not null,
    utc_offset_minutes integer,
    start_utc timestamptz,
    -- The run's own local calendar date: the streak day it counts for.
    local_date date not null,
    distance_km double precision not null check (distance_km >= 0),
    duration_s double precision not null check (duration_s >= 0),
    -- SmashRun's values are open sets: text, never an enum.
    activity_type text,
    source_app text,
    device_type text,
    app_version text,
    external_id text,
    notes text,
    calories integer,
    heart_rate_min integer,
    heart_rate_avg integer,
    heart_rate_max integer,
    cadence_min integer,
    cadence_avg integer,
    cadence_max integer,
    weather_type text,
    temperature_c double precision,
    temperature_apparent_c double precision,
    temperature_wind_chill_c double precision,
    humidity_pct double precision,
    wind_speed_kmh double precision,
    how_felt text,
    terrain text,
    is_race boolean,
    is_treadmill boolean,
    is_bad_hr boolean,
    is_bad_elevation boolean,
    has_details boolean,
    has_details_gps boolean,
    start_latitude double precision,
    start_longitude double precision,
    source_created_at timestamp,
    source_updated_at timestamp,
    -- The activity exactly as SmashRun sent it: nothing is lost if a column is missing today.
    raw jsonb not null,
    -- Set when SmashRun no longer lists the run in a full sync.
    deleted_at timestamptz,
    -- The last full sync that saw the run: a full sync marks the runs it did not see deleted.
    seen_by_job uuid,
    inserted_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (user_id, source, source_activity_id)
);
-- Covers the per-day and per-month aggregations (streaks, monthly totals) with index-only scans
-- in date order, so they never read the wide rows.
create index runs_user_local_date on public.runs (user_id, local_date) include (distance_km, duration_s)
    where deleted_at is null;

alter table public.users enable row level security;
alter table public.user_sources enable row level security;
alter table public.api_keys enable row level security;
alter table public.runs enable row level security;

revoke all on public.users, public.user_sources, public.api_keys, public.runs from anon, authenticated;
grant all on public.users, public.user_sources, public.api_keys, public.runs to service_role;

-- Upserts one page of runs in a single statement and says what happened to each.
--
-- A row is rewritten only when SmashRun's JSON changed, the run came back after being marked
-- deleted, or a full sync (p_job_id) must record that it saw it; so a re-sync of unchanged data
-- writes nothing and reports every run as unchanged. The primary key makes a redelivered page
-- idempotent. Counts are classified against the rows as they were before the statement.
create function public.upsert_runs(p_user_id uuid, p_source text, p_runs jsonb, p_job_id uuid default null)
returns table (inserted bigint, updated bigint, unchanged bigint)
language sql
volatile
set search_path = public
as $$
    with incoming as (
        select *
        from jsonb_to_recordset(p_runs) as r (
            source_activity_id bigint,
            start_local timestamp,
            utc_offset_minutes integer,
            start_utc timestamptz,
            local_date date,
            distance_km double precision,
            duration_s double precision,
            activity_type text,
            source_app text,
            device_type text,
            app_version text,
            external_id text,
            notes text,
            calories integer,
            heart_rate_min integer,
            heart_rate_avg integer,
            heart_rate_max integer,
            cadence_min integer,
            cadence_avg integer,
            cadence_max integer,
            weather_type text,
            temperature_c double precision,
            temperature_apparent_c double precision,
            temperature_wind_chill_c double precision,
            humidity_pct double precision,
            wind_speed_kmh double precision,
            how_felt text,
            terrain text,
            is_race boolean,
            is_treadmill boolean,
            is_bad_hr boolean,
            is_bad_elevation boolean,
            has_details boolean,
            has_details_gps boolean,
            start_latitude double precision,
            start_longitude double precision,
            source_created_at timestamp,
            source_updated_at timestamp,
            raw jsonb
        )
    ),
    classified as (
        select
            i.source_activity_id,
            case
                when t.source_activity_id is null then 'inserted'
                when t.raw is distinct from i.raw or t.deleted_at is not null then 'updated'
                else 'unchanged'
            end as outcome
        from incoming i
        left join public.runs t
            on t.user_id = p_user_id
            and t.source = p_source
            and t.source_activity_id = i.source_activity_id
    ),
    written as (
        insert into public.runs as t (
            user_id, source, source_activity_id, start_local, utc_offset_minutes, start_utc,
            local_date, distance_km, duration_s, activity_type, source_app, device_type,
            app_version, external_id, notes, calories, heart_rate_min, heart_rate_avg,
            heart_rate_max, cadence_min, cadence_avg, cadence_max, weather_type, temperature_c,
            temperature_apparent_c, temperature_wind_chill_c, humidity_pct, wind_speed_kmh,
            how_felt, terrain, is_race, is_treadmill, is_bad_hr, is_bad_elevation, has_details,
            has_details_gps, start_latitude, start_longitude, source_created_at,
            source_updated_at, raw, seen_by_job
        )
        select
            p_user_id, p_source, i.source_activity_id, i.start_local, i.utc_offset_minutes,
            i.start_utc, i.local_date, i.distance_km, i.duration_s, i.activity_type,
            i.source_app, i.device_type, i.app_version, i.external_id, i.notes, i.calories,
            i.heart_rate_min, i.heart_rate_avg, i.heart_rate_max, i.cadence_min, i.cadence_avg,
            i.cadence_max, i.weather_type, i.temperature_c, i.temperature_apparent_c,
            i.temperature_wind_chill_c, i.humidity_pct, i.wind_speed_kmh, i.how_felt, i.terrain,
            i.is_race, i.is_treadmill, i.is_bad_hr, i.is_bad_elevation, i.has_details,
            i.has_details_gps, i.start_latitude, i.start_longitude, i.source_created_at,
            i.source_updated_at, i.raw, p_job_id
        from incoming i
        on conflict (user_id, source, source_activity_id) do update set
            start_local = excluded.start_local,
            utc_offset_minutes = excluded.utc_offset_minutes,
            start_utc = excluded.start_utc,
            local_date = excluded.local_date,
            distance_km = excluded.distance_km,
            duration_s = excluded.duration_s,
            activity_type = excluded.activity_type,
            source_app = excluded.source_app,
            device_type = excluded.device_type,
            app_version = excluded.app_version,
            external_id = excluded.external_id,
            notes = excluded.notes,
            calories = excluded.calories,
            heart_rate_min = excluded.heart_rate_min,
            heart_rate_avg = excluded.heart_rate_avg,
            heart_rate_max = excluded.heart_rate_max,
            cadence_min = excluded.cadence_min,
            cadence_avg = excluded.cadence_avg,
            cadence_max = excluded.cadence_max,
            weather_type = excluded.weather_type,
            temperature_c = excluded.temperature_c,
            temperature_apparent_c = excluded.temperature_apparent_c,
            temperature_wind_chill_c = excluded.temperature_wind_chill_c,
            humidity_pct = excluded.humidity_pct,
            wind_speed_kmh = excluded.wind_speed_kmh,
            how_felt = excluded.how_felt,
            terrain = excluded.terrain,
            is_race = excluded.is_race,
            is_treadmill = excluded.is_treadmill,
            is_bad_hr = excluded.is_bad_hr,
            is_bad_elevation = excluded.is_bad_elevation,
            has_details = excluded.has_details,
            has_details_gps = excluded.has_details_gps,
            start_latitude = excluded.start_latitude,
            start_longitude = excluded.start_longitude,
            source_created_at = excluded.source_created_at,
            source_updated_at = excluded.source_updated_at,
            raw = excluded.raw,
            deleted_at = null,
            seen_by_job = coalesce(excluded.seen_by_job, t.seen_by_job),
            updated_at = case
                when t.raw is distinct from excluded.raw or t.deleted_at is not null then now()
                else t.updated_at
            end
        where t.raw is distinct from excluded.raw
            or t.deleted_at is not null
            or (p_job_id is not null and t.seen_by_job is distinct from p_job_id)
    )
    -- A data-modifying CTE runs to completion whether or not the query reads it.
    select
        count(*) filter (where outcome = 'inserted'),
        count(*) filter (where outcome = 'updated'),
        count(*) filter (where outcome = 'unchanged')
    from classified
$$;

revoke all on function public.upsert_runs(uuid, text, jsonb, uuid) from public, anon, authenticated;
grant execute on function public.upsert_runs(uuid, text, jsonb, uuid) to service_role;

-- After a full sync has seen every activity SmashRun lists, marks the user's other runs deleted
-- (kept, with `deleted_at`, never removed) and says how many.
create function public.mark_unseen_runs_deleted(p_user_id uuid, p_source text, p_job_id uuid)
returns bigint
language sql
volatile
set search_path = public
as $$
    with gone as (
        update public.runs
        set deleted_at = now(), updated_at = now()
        where user_id = p_user_id
            and source = p_source
            and deleted_at is null
            and seen_by_job is distinct from p_job_id
        returning 1
    )
    select count(*) from gone
$$;

revoke all on function public.mark_unseen_runs_deleted(uuid, text, uuid) from public, anon, authenticated;
grant execute on function public.mark_unseen_runs_deleted(uuid, text, uuid) to service_role;

-- Counts a user's runs without shipping them (PostgREST caps responses at 1000 rows).
create function public.run_summary(p_user_id uuid)
returns table (run_count bigint, total_distance_km double precision, longest_streak integer)
language sql
stable
set search_path = public
as $$
    with days as (
        select distinct local_date from public.runs
        where user_id = p_user_id and deleted_at is null
    ),
    islands as (
        select local_date - (row_number() over (order by local_date))::integer as island
        from days
    )
    select
        (select count(*) from public.runs where user_id = p_user_id and deleted_at is null),
        (select coalesce(sum(distance_km), 0) from public.runs
            where user_id = p_user_id and deleted_at is null),
        (select coalesce(max(n), 0)::integer from (
            select count(*) as n from islands group by island
        ) s)
$$;

revoke all on function public.run_summary(uuid) from public, anon, authenticated;
grant execute on function public.run_summary(uuid) to service_role;

-- Links a SmashRun account to a user and stores its encrypted tokens, atomically.
--
-- The caller picks the user id (the tokens are encrypted for it before the call). When the
-- account already belongs to another user, nothing is written and that user's id is returned:
-- the caller encrypts for that user and calls again.
create function public.link_smashrun_source(
    p_user_id uuid,
    p_source_user_id text,
    p_user_name text,
    p_display_name text,
    p_tokens_ciphertext text,
    p_token_expires_at timestamptz,
    p_token_refreshed_at timestamptz
)
returns uuid
language plpgsql
volatile
set search_path = public
as $$
declare
    owner uuid;
begin
    select user_id into owner
    from public.user_sources
    where source = 'smashrun' and source_user_id = p_source_user_id;
    if owner is not null and owner <> p_user_id then
        return owner;
    end if;

    insert into public.users (id, display_name)
    values (p_user_id, p_display_name)
    on conflict (id) do update
        set display_name = coalesce(excluded.display_name, users.display_name),
            updated_at = now();

    insert into public.user_sources as s (
        user_id, source, source_user_id, source_user_name, tokens_ciphertext,
        token_expires_at, token_refreshed_at, active
    )
    values (
        p_user_id, 'smashrun', p_source_user_id, p_user_name, p_tokens_ciphertext,
        p_token_expires_at, p_token_refreshed_at, true
    )
    on conflict (source, source_user_id) do update
        set tokens_ciphertext = excluded.tokens_ciphertext,
            token_expires_at = excluded.token_expires_at,
            token_refreshed_at = excluded.token_refreshed_at,
            source_user_name = coalesce(excluded.source_user_name, s.source_user_name),
            active = true,
            updated_at = now()
        where s.user_id = p_user_id;

    select user_id into owner
    from public.user_sources
    where source = 'smashrun' and source_user_id = p_source_user_id;
    -- A concurrent link won: drop the user this call created for nothing.
    if owner <> p_user_id then
        delete from public.users u
        where u.id = p_user_id
          and not exists (select 1 from public.user_sources x where x.user_id = p_user_id);
    end if;
    return owner;
end
$$;

revoke all on function public.link_smashrun_source(uuid, text, text, text, text, timestamptz, timestamptz)
    from public, anon, authenticated;
grant execute on function public.link_smashrun_source(uuid, text, text, text, text, timestamptz, timestamptz)
    to service_role;
