-- The worker's upserts arrive as one JSON document in a text body.
--
-- A batch of 1,000 runs is about 1.8 MB of JSON. Sent as named arguments, PostgREST parses it
-- (to find the argument names), hands it to PostgreSQL as `json`, which parses it again and then
-- converts `p_runs` to `jsonb` a third time: 115 ms a batch here, of which 60 ms is the upsert.
-- PostgREST passes a text body to a function with a single unnamed `text` parameter untouched
-- (`Content-Type: text/plain`), so the document is parsed once, here: 50 ms a batch.
--
-- The document holds the arguments of `upsert_runs`, under their names.

create function public.upsert_runs_document(text)
returns table (inserted bigint, updated bigint, unchanged bigint)
language plpgsql
volatile
set search_path = public
as $$
declare
    -- Parsed once: a SQL function would repeat the cast for each argument taken from it.
    v_doc jsonb := $1::jsonb;
begin
    if jsonb_typeof(v_doc) is distinct from 'object' or jsonb_typeof(v_doc -> 'p_runs') is distinct from 'array' then
        raise exception 'the upsert document must be an object with a p_runs array'
            using errcode = '22023';
    end if;
    return query
        select * from public.upsert_runs(
            (v_doc ->> 'p_user_id')::uuid,
            v_doc ->> 'p_source',
            v_doc -> 'p_runs',
            (v_doc ->> 'p_job_id')::uuid,
            v_doc -> 'p_checkpoint'
        );
end
$$;

revoke all on function public.upsert_runs_document(text) from public, anon, authenticated;
grant execute on function public.upsert_runs_document(text) to service_role;
