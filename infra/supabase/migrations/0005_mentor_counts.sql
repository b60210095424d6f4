-- 0005: mentor_counts(), a small read-only database function to schedule as a
-- `database-function` job (the README's first example): how many peer mentors are in
-- each status, and in all.
--
--   POST /rest/v1/rpc/mentor_counts  {}  ->  {"active": 15, "paused": 4, "inactive": 1, "total": 20}
--
-- Every status appears, with 0 when no mentor has it. Callable by service_role only.

CREATE OR REPLACE FUNCTION public.mentor_counts()
RETURNS jsonb
LANGUAGE sql
STABLE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
    SELECT jsonb_build_object(
        'active',   count(*) FILTER (WHERE status = 'active'),
        'paused',   count(*) FILTER (WHERE status = 'paused'),
        'inactive', count(*) FILTER (WHERE status = 'inactive'),
        'total',    count(*)
    )
    FROM public.peer_mentors
$$;

COMMENT ON FUNCTION public.mentor_counts() IS
    'Peer mentors by status (active, paused, inactive) and in total; a demo of the database-function job type.';

REVOKE ALL ON FUNCTION public.mentor_counts() FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.mentor_counts() TO service_role;
