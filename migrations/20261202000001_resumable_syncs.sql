-- Syncs that survive crashes, rate limits and shifting pages.
--
-- - A sync's checkpoint is kept on its source, written in the same transaction as each page's
--   runs: it outlives the job, so the next sync continues a failed or abandoned one.
-- - Each run records the job that inserted it and the job that last changed it, so a job's
--   counts stay true however often a page is upserted again, and `job_run_counts` reports them.
-- - An upsert that changes nothing writes nothing (no new row version, no WAL, no trigger).
-- - Deletions are decided against SmashRun's listing of every id (`reconcile_listing`), no
--   longer against the runs one full sync happened to page through (`seen_by_job`).

alter table public.user_sources
    add column sync_checkpoint jsonb;

alter table public.runs
    add column inserted_by_job uuid,
    add column changed_by_job uuid,
    drop column seen_by_job;

drop function public.mark_unseen_runs_deleted(uuid, text, uuid);
drop function public.upsert_runs(uuid, text, jsonb, uuid);

create function public.upsert_runs(
    p_user_id uuid,
    p_source text,
    p_runs jsonb,
    p_job_id uuid,
    p_checkpoint jsonb
)
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
                when t.source_activity_id is null or t.inserted_by_job = p_job_id then 'inserted'
                when t.raw is distinct from i.raw or t.deleted_at is not null
                    or t.changed_by_job = p_job_id then 'updated'
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
            source_updated_at, raw, inserted_by_job, changed_by_job
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
            i.source_updated_at, i.raw, p_job_id, p_job_id
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
            changed_by_job = excluded.changed_by_job,
            updated_at = now()
        -- Unchanged rows are left alone: no write at all.
        where t.raw is distinct from excluded.raw or t.deleted_at is not null
        returning 1
    ),
    checkpointed as (
        update public.user_sources
        set sync_checkpoint = p_checkpoint
        where user_id = p_user_id and source = p_source and active
        returning 1
    )
    select
        count(*) filter (where outcome = 'inserted'),
        count(*) filter (where outcome = 'updated'),
        count(*) filter (where outcome = 'unchanged')
    -- `written` and `checkpointed` run once whether or not they are read.
    from classified
$$;

-- What a job did: the runs it inserted, and the runs it changed that it did not insert.
create function public.job_run_counts(p_user_id uuid, p_source text, p_job_id uuid)
returns table (inserted bigint, updated bigint)
language sql
stable
set search_path = public
as $$
    select
        count(*) filter (where inserted_by_job = p_job_id),
        count(*) filter (where changed_by_job = p_job_id
            and inserted_by_job is distinct from p_job_id)
    from public.runs
    where user_id = p_user_id and source = p_source
$$;

-- Compares SmashRun's listing of every id with the stored runs. The unlisted runs are marked
-- deleted unless there are more than `p_max_runs` of them or more than `p_max_percent` of the
-- stored ones (both null: mark them whatever their number, the listing having been confirmed).
-- Returns the counts, and the first `p_max_absent` listed ids that are not stored.
create function public.reconcile_listing(
    p_user_id uuid,
    p_source text,
    p_listed jsonb,
    p_max_runs bigint,
    p_max_percent bigint,
    p_max_absent integer
)
returns jsonb
language plpgsql
volatile
set search_path = public
as $$
declare
    v_stored bigint;
    v_unlisted bigint;
    v_marked bigint := 0;
    v_absent jsonb;
begin
    create temporary table if not exists listed_ids (id bigint primary key) on commit drop;
    truncate listed_ids;
    insert into listed_ids
        select distinct e::bigint from jsonb_array_elements_text(p_listed) as e
        on conflict do nothing;

    select count(*), count(*) filter (where l.id is null)
    into v_stored, v_unlisted
    from public.runs r
    left join listed_ids l on l.id = r.source_activity_id
    where r.user_id = p_user_id and r.source = p_source and r.deleted_at is null;

    if p_max_runs is null
        or (v_unlisted <= p_max_runs and v_unlisted * 100 <= v_stored * p_max_percent) then
        update public.runs r
        set deleted_at = now(), updated_at = now()
        where r.user_id = p_user_id and r.source = p_source and r.deleted_at is null
            and not exists (select 1 from listed_ids l where l.id = r.source_activity_id);
        get diagnostics v_marked = row_count;
    end if;

    select coalesce(jsonb_agg(a.id order by a.id), '[]'::jsonb)
    into v_absent
    from (
        select l.id from listed_ids l
        where not exists (
            select 1 from public.runs r
            where r.user_id = p_user_id and r.source = p_source
                and r.source_activity_id = l.id
        )
        order by l.id
        limit p_max_absent
    ) a;

    return jsonb_build_object(
        'stored', v_stored, 'unlisted', v_unlisted, 'marked', v_marked, 'absent', v_absent
    );
end
$$;

revoke all on function public.upsert_runs(uuid, text, jsonb, uuid, jsonb),
    public.job_run_counts(uuid, text, uuid),
    public.reconcile_listing(uuid, text, jsonb, bigint, bigint, integer)
    from public, anon, authenticated;
grant execute on function public.upsert_runs(uuid, text, jsonb, uuid, jsonb),
    public.job_run_counts(uuid, text, uuid),
    public.reconcile_listing(uuid, text, jsonb, bigint, bigint, integer)
    to service_role;
