-- reconcile_listing again, with plans that do not depend on statistics: right after a first
-- sync has upserted 20,000 runs, before autovacuum has analysed them, PostgreSQL took the user
-- for a one-run user and looked for the absent ids with a nested loop of 20,000 x 20,000 rows
-- (15 s). The absent ids are now a set difference (hashed or sorted, whatever the estimates),
-- and the listing's own statistics are taken before it is joined.
create or replace function public.reconcile_listing(
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
    analyze listed_ids;

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
        select missing.id
        from (
            select id from listed_ids
            except
            select source_activity_id from public.runs
            where user_id = p_user_id and source = p_source
        ) missing
        order by missing.id
        limit p_max_absent
    ) a;

    return jsonb_build_object(
        'stored', v_stored, 'unlisted', v_unlisted, 'marked', v_marked, 'absent', v_absent
    );
end
$$;
