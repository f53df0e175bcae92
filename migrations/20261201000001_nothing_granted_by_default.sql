-- The roles PostgREST lets the public act as (`anon`, `authenticated`) reach nothing.
--
-- Migration 1 created pgcrypto in `public`, which put 36 functions there, executable by every
-- role and six of them callable through PostgREST. Nothing uses them: `gen_random_uuid` is core
-- since PostgreSQL 13. Hosted Supabase keeps its own pgcrypto in the `extensions` schema, which is
-- left alone; only a copy in `public` is dropped.
--
-- PostgreSQL lets PUBLIC execute every new function, and Supabase's default privileges give
-- `anon` and `authenticated` every new table, sequence and function in `public`. Each earlier
-- migration revoked that by hand, function by function; from here on nothing is granted unless a
-- migration grants it, to `service_role`, on purpose.

do $$
begin
    if exists (
        select from pg_extension e join pg_namespace n on n.oid = e.extnamespace
        where e.extname = 'pgcrypto' and n.nspname = 'public'
    ) then
        drop extension pgcrypto;
    end if;
end
$$;

-- Whatever exists now.
revoke all on all tables in schema public from public, anon, authenticated;
revoke all on all sequences in schema public from public, anon, authenticated;
revoke all on all functions in schema public from public, anon, authenticated;

-- Whatever the migrations' role creates from now on, in any schema and in `public`.
alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke all on tables from public, anon, authenticated;
alter default privileges in schema public revoke all on sequences from public, anon, authenticated;
alter default privileges in schema public revoke all on functions from public, anon, authenticated;

-- The service role keeps what it had: migrations grant it each function they create, and
-- these keep that true for the ones to come.
alter default privileges in schema public grant all on tables to service_role;
alter default privileges in schema public grant all on sequences to service_role;
alter default privileges in schema public grant execute on functions to service_role;
