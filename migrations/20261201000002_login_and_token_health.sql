-- Logging in through the API (`stk auth login`): keys that record their use and can be revoked,
-- token pairs saved by compare-and-set, and sources SmashRun no longer accepts.

alter table public.user_sources
    -- Bumped by every save of the tokens; a refresh is saved only over the pair it read, so two
    -- workers refreshing a rotating refresh token at once cannot lose the newer pair.
    add column tokens_version bigint not null default 0,
    -- SmashRun refused the refresh token (invalid_grant): the runner must log in again, and the
    -- nightly run skips the source until they do.
    add column needs_relink boolean not null default false;

-- Saves a refreshed pair if the stored one is still `p_expected_version`; returns the new
-- version, or null when another save came first.
create function public.save_tokens_if_current(
    p_user_id uuid,
    p_source_user_id text,
    p_expected_version bigint,
    p_tokens_ciphertext text,
    p_token_expires_at timestamptz,
    p_token_refreshed_at timestamptz
)
returns bigint
language sql
volatile
set search_path = public
as $$
    update public.user_sources
    set tokens_ciphertext = p_tokens_ciphertext,
        token_expires_at = p_token_expires_at,
        token_refreshed_at = p_token_refreshed_at,
        tokens_version = tokens_version + 1,
        needs_relink = false,
        updated_at = now()
    where user_id = p_user_id
      and source = 'smashrun'
      and source_user_id = p_source_user_id
      and tokens_version = p_expected_version
    returning tokens_version;
$$;

-- A new login replaces the tokens whatever their version, and clears needs_relink.
create or replace function public.link_smashrun_source(
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
            tokens_version = s.tokens_version + 1,
            needs_relink = false,
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

-- The user of an unrevoked key. `last_used_at` is written at most about once an hour, so a
-- busy key does not turn every read into a write.
create function public.api_key_user(p_key_hash text)
returns uuid
language plpgsql
volatile
set search_path = public
as $$
declare
    v_user uuid;
    v_last timestamptz;
begin
    select user_id, last_used_at into v_user, v_last
    from public.api_keys
    where key_hash = p_key_hash and revoked_at is null;
    if v_user is not null and (v_last is null or v_last < now() - interval '1 hour') then
        update public.api_keys set last_used_at = now() where key_hash = p_key_hash;
    end if;
    return v_user;
end
$$;

-- Revokes the key, or (p_all) every key of its user; returns how many.
create function public.revoke_api_keys(p_key_hash text, p_all boolean)
returns bigint
language sql
volatile
set search_path = public
as $$
    with target as (
        select user_id from public.api_keys where key_hash = p_key_hash and revoked_at is null
    ), revoked as (
        update public.api_keys k
        set revoked_at = now()
        where k.revoked_at is null
          and (k.key_hash = p_key_hash or (p_all and k.user_id = (select user_id from target)))
          and exists (select 1 from target)
        returning 1
    )
    select count(*) from revoked;
$$;

-- `GET /me`: the key's user, their SmashRun link and token health, the key itself.
create function public.me(p_key_hash text)
returns jsonb
language sql
stable
set search_path = public
as $$
    select jsonb_build_object(
        'user_id', u.id,
        'name', u.display_name,
        'smashrun', (
            select jsonb_build_object(
                'account_id', s.source_user_id,
                'user_name', s.source_user_name,
                'token_expires_in_s', floor(extract(epoch from s.token_expires_at - now()))::bigint,
                'token_refreshed_at', s.token_refreshed_at,
                'needs_relink', s.needs_relink
            )
            from public.user_sources s
            where s.user_id = u.id and s.source = 'smashrun' and s.active
            order by s.updated_at desc
            limit 1
        ),
        'key', jsonb_build_object(
            'prefix', k.key_prefix,
            'created_at', k.created_at,
            'last_used_at', k.last_used_at
        ),
        'last_sync_at', (
            select max(s.last_sync_at) from public.user_sources s where s.user_id = u.id
        )
    )
    from public.api_keys k
    join public.users u on u.id = k.user_id
    where k.key_hash = p_key_hash and k.revoked_at is null;
$$;

revoke all on function public.save_tokens_if_current(uuid, text, bigint, text, timestamptz, timestamptz),
    public.api_key_user(text), public.revoke_api_keys(text, boolean), public.me(text)
    from public, anon, authenticated;
grant execute on function public.save_tokens_if_current(uuid, text, bigint, text, timestamptz, timestamptz),
    public.api_key_user(text), public.revoke_api_keys(text, boolean), public.me(text),
    public.link_smashrun_source(uuid, text, text, text, text, timestamptz, timestamptz)
    to service_role;
