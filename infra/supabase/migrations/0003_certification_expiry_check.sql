-- 0003: the nightly certification expiry check, as functions called over
-- POST /rest/v1/rpc/<name>, so one run costs one HTTP request whatever the mentor count.
--
-- The rule
--   * A mentor is certified through the latest expires_on among their certifications
--     (valid ON that date; expired from the day after).
--   * Latest expires_on before p_as_of and mentor active: paused with reason
--     certification_expired, paused_at, and a status event carrying p_idempotency_key.
--   * Latest expires_on between p_as_of and p_as_of + N days, N in p_notice_days, mentor
--     active: one 'expiring' notice for the certification holding that date and each
--     such N, never repeated (unique constraint + ON CONFLICT DO NOTHING). A
--     certification first seen 5 days before expiry gets its 30- and 7-day notices in
--     the same run.
--   * Paused and inactive mentors are never touched; nothing is ever reactivated.
--   * Active mentors without any certification are not touched; they are counted
--     (withoutCertification) so someone can look at them.
--
-- Safety
--   * Everything happens in the caller's one transaction (PostgREST opens one per
--     request): a crash half-way leaves no trace, a retry starts from scratch.
--   * Idempotent: only active mentors are paused and notices are unique, so running
--     the same night again changes nothing more. The result counts what the run key
--     (p_idempotency_key, the same for every attempt of one slot) has done in total,
--     so the retry of an attempt whose response was lost reports the same figures
--     (activeMentors = active at the start of the slot's first attempt).
--   * Blast-radius guard: when more than p_max_pause_share of the active mentors, or
--     more than p_max_pause_count, would be paused, nothing is changed and the result
--     has outcome 'refused' with the figures (HTTP 200: a decision, not an error; the
--     scheduler's handler turns it into a failed run and an alert). p_force skips it.
--   * p_dry_run: the same figures, nothing written.

CREATE OR REPLACE FUNCTION public.certification_notice_candidates(
    p_as_of       date,
    p_notice_days integer[]
) RETURNS TABLE (
    certification_id uuid,
    peer_mentor_id   uuid,
    threshold_days   integer,
    expires_on       date
)
LANGUAGE sql
STABLE
SET search_path = public, pg_temp
AS $$
    SELECT c.id, c.peer_mentor_id, t.days, c.expires_on
      FROM peer_mentor_certifications AS c
      JOIN peer_mentors AS m
        ON m.id = c.peer_mentor_id AND m.status = 'active'
      JOIN (SELECT DISTINCT d FROM unnest(p_notice_days) AS d) AS t(days)
        ON c.expires_on - p_as_of <= t.days
     WHERE c.expires_on >= p_as_of
       AND c.expires_on <= p_as_of + (SELECT max(d) FROM unnest(p_notice_days) AS d)
       -- the certification holding the mentor's latest expires_on (ties: highest id)
       AND NOT EXISTS (
             SELECT 1
               FROM peer_mentor_certifications AS later
              WHERE later.peer_mentor_id = c.peer_mentor_id
                AND (later.expires_on > c.expires_on
                     OR (later.expires_on = c.expires_on AND later.id > c.id)))
$$;

COMMENT ON FUNCTION public.certification_notice_candidates(date, integer[]) IS
    'Notices the expiry check owes on p_as_of (existing ones included): one row per certification and threshold.';

CREATE OR REPLACE FUNCTION public.certification_expiry_check(
    p_as_of           date,
    p_idempotency_key text,
    p_notice_days     integer[] DEFAULT ARRAY[30, 7],
    p_dry_run         boolean   DEFAULT false,
    p_force           boolean   DEFAULT false,
    p_max_pause_share numeric   DEFAULT 0.2,
    p_max_pause_count integer   DEFAULT 500,
    p_id_limit        integer   DEFAULT 100
) RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    v_active       bigint;
    v_prior        bigint;
    v_uncertified  bigint;
    v_expired      uuid[];
    v_would_pause  integer;
    v_refused      boolean;
    v_outcome      text;
    v_paused_count bigint;
    v_paused_ids   uuid[];
    v_notices      bigint;
    v_id_limit     integer := least(greatest(coalesce(p_id_limit, 100), 0), 1000);
BEGIN
    IF p_as_of IS NULL THEN
        RAISE EXCEPTION 'p_as_of is required'
            USING ERRCODE = '22023', HINT = 'Pass the run date as YYYY-MM-DD.';
    END IF;
    IF p_idempotency_key IS NULL OR btrim(p_idempotency_key) = '' THEN
        RAISE EXCEPTION 'p_idempotency_key is required'
            USING ERRCODE = '22023', HINT = 'Pass the run key, the same for every attempt of one slot.';
    END IF;
    IF p_notice_days IS NULL OR cardinality(p_notice_days) = 0
       OR EXISTS (SELECT 1 FROM unnest(p_notice_days) AS d WHERE d IS NULL OR d <= 0) THEN
        RAISE EXCEPTION 'p_notice_days must be a non-empty list of positive whole days, got %', p_notice_days
            USING ERRCODE = '22023', HINT = 'For example [30, 7].';
    END IF;
    IF p_max_pause_share IS NULL OR p_max_pause_share < 0 OR p_max_pause_share > 1 THEN
        RAISE EXCEPTION 'p_max_pause_share must be between 0 and 1, got %', p_max_pause_share
            USING ERRCODE = '22023';
    END IF;
    IF p_max_pause_count IS NULL OR p_max_pause_count < 0 THEN
        RAISE EXCEPTION 'p_max_pause_count must be zero or more, got %', p_max_pause_count
            USING ERRCODE = '22023';
    END IF;

    -- One run at a time: a concurrent call waits here, then finds the work done.
    PERFORM pg_advisory_xact_lock(hashtext('public.certification_expiry_check'));

    -- One pass over the active mentors: how many, how many without any certification,
    -- and which are expired (latest expires_on before the run date).
    SELECT count(*),
           count(*) FILTER (WHERE l.latest IS NULL),
           coalesce(array_agg(m.id ORDER BY m.id) FILTER (WHERE l.latest < p_as_of), '{}')
      INTO v_active, v_uncertified, v_expired
      FROM peer_mentors AS m
      LEFT JOIN (SELECT c.peer_mentor_id, max(c.expires_on) AS latest
                   FROM peer_mentor_certifications AS c
                  GROUP BY c.peer_mentor_id) AS l
        ON l.peer_mentor_id = m.id
     WHERE m.status = 'active';

    -- Mentors an earlier attempt of this run already paused count as active at the
    -- start of the run, so every attempt of one slot reports the same figures.
    SELECT count(DISTINCT e.peer_mentor_id) INTO v_prior
      FROM peer_mentor_status_events AS e
     WHERE e.idempotency_key = p_idempotency_key
       AND e.to_status = 'paused'
       AND e.reason = 'certification_expired';
    v_active := v_active + v_prior;

    v_would_pause := cardinality(v_expired);
    v_refused := NOT coalesce(p_force, false)
                 AND (v_would_pause > p_max_pause_count
                      OR v_would_pause > p_max_pause_share * v_active);

    IF coalesce(p_dry_run, false) OR v_refused THEN
        v_outcome := CASE WHEN coalesce(p_dry_run, false) THEN 'dry_run' ELSE 'refused' END;
        IF v_outcome = 'dry_run' THEN
            SELECT count(*) INTO v_notices
              FROM certification_notice_candidates(p_as_of, p_notice_days) AS n
             WHERE NOT EXISTS (
                     SELECT 1 FROM certification_expiry_notices AS e
                      WHERE e.certification_id = n.certification_id
                        AND e.notice_kind = 'expiring'
                        AND e.threshold_days = n.threshold_days);
        ELSE
            v_notices := 0;
        END IF;
        RETURN jsonb_build_object(
            'outcome', v_outcome,
            'asOf', p_as_of,
            'activeMentors', v_active,
            'withoutCertification', v_uncertified,
            'wouldPause', v_would_pause,
            'refused', v_refused,
            'paused', jsonb_build_object(
                'count', CASE WHEN v_outcome = 'dry_run' THEN v_would_pause ELSE 0 END,
                'ids', CASE WHEN v_outcome = 'dry_run'
                            THEN to_jsonb(coalesce(v_expired[1:v_id_limit], '{}'))
                            ELSE '[]'::jsonb END),
            'noticesCreated', v_notices,
            'noticeDays', to_jsonb(p_notice_days),
            'maxPauseShare', p_max_pause_share,
            'maxPauseCount', p_max_pause_count,
            'force', coalesce(p_force, false),
            'dryRun', coalesce(p_dry_run, false));
    END IF;

    -- Pause and audit in one statement. "status = 'active'" is re-checked so a mentor
    -- whose status changed since the read above is left alone.
    WITH paused AS (
        UPDATE peer_mentors AS m
           SET status = 'paused',
               pause_reason = 'certification_expired',
               paused_at = now(),
               updated_at = now()
         WHERE m.id = ANY (v_expired)
           AND m.status = 'active'
        RETURNING m.id
    )
    INSERT INTO peer_mentor_status_events (peer_mentor_id, from_status, to_status, reason, idempotency_key)
    SELECT paused.id, 'active', 'paused', 'certification_expired', p_idempotency_key
      FROM paused;

    INSERT INTO certification_expiry_notices
           (certification_id, peer_mentor_id, notice_kind, threshold_days, expires_on, as_of, idempotency_key)
    SELECT n.certification_id, n.peer_mentor_id, 'expiring', n.threshold_days, n.expires_on, p_as_of, p_idempotency_key
      FROM certification_notice_candidates(p_as_of, p_notice_days) AS n
    ON CONFLICT ON CONSTRAINT certification_expiry_notices_once DO NOTHING;

    -- Report what this run key has done in total (earlier attempts of the slot included).
    SELECT count(DISTINCT e.peer_mentor_id),
           (array_agg(DISTINCT e.peer_mentor_id))[1:v_id_limit]
      INTO v_paused_count, v_paused_ids
      FROM peer_mentor_status_events AS e
     WHERE e.idempotency_key = p_idempotency_key
       AND e.to_status = 'paused'
       AND e.reason = 'certification_expired';

    SELECT count(*) INTO v_notices
      FROM certification_expiry_notices AS e
     WHERE e.idempotency_key = p_idempotency_key;

    RETURN jsonb_build_object(
        'outcome', 'applied',
        'asOf', p_as_of,
        'activeMentors', v_active,
        'withoutCertification', v_uncertified,
        'wouldPause', v_would_pause,
        'refused', false,
        'paused', jsonb_build_object('count', v_paused_count,
                                     'ids', to_jsonb(coalesce(v_paused_ids, '{}'))),
        'noticesCreated', v_notices,
        'noticeDays', to_jsonb(p_notice_days),
        'maxPauseShare', p_max_pause_share,
        'maxPauseCount', p_max_pause_count,
        'force', coalesce(p_force, false),
        'dryRun', false);
END
$$;

COMMENT ON FUNCTION public.certification_expiry_check(date, text, integer[], boolean, boolean, numeric, integer, integer) IS
    'The nightly certification expiry check (see migration 0003 for the rule, the guard and the result).';

REVOKE ALL ON FUNCTION public.certification_notice_candidates(date, integer[]) FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION public.certification_expiry_check(date, text, integer[], boolean, boolean, numeric, integer, integer)
    FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.certification_notice_candidates(date, integer[]) TO service_role;
GRANT EXECUTE ON FUNCTION public.certification_expiry_check(date, text, integer[], boolean, boolean, numeric, integer, integer)
    TO service_role;
