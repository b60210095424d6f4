-- Who forced a certification check: a run with {"force": true} overrides the
-- blast-radius guard and may pause hundreds of mentors, so the status events it writes
-- name the caller who forced it (the token's subject and role, from the scheduler).
--
-- The function gains p_forced_by (NULL unless p_force); its result gains forcedBy. The
-- old eight-argument signature is dropped so that PostgREST resolves one function.

ALTER TABLE public.peer_mentor_status_events ADD COLUMN IF NOT EXISTS forced_by text;
COMMENT ON COLUMN public.peer_mentor_status_events.forced_by IS
    'Who forced the run that made the change (subject and role), when the guard was overridden.';

DROP FUNCTION IF EXISTS public.certification_expiry_check(date, text, integer[], boolean, boolean, numeric, integer, integer);

CREATE OR REPLACE FUNCTION public.certification_expiry_check(
    p_as_of           date,
    p_idempotency_key text,
    p_notice_days     integer[] DEFAULT ARRAY[30, 7],
    p_dry_run         boolean   DEFAULT false,
    p_force           boolean   DEFAULT false,
    p_max_pause_share numeric   DEFAULT 0.2,
    p_max_pause_count integer   DEFAULT 500,
    p_id_limit        integer   DEFAULT 100,
    p_forced_by       text      DEFAULT NULL
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
        'forcedBy', CASE WHEN coalesce(p_force, false) THEN p_forced_by END,
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
    INSERT INTO peer_mentor_status_events (peer_mentor_id, from_status, to_status, reason, idempotency_key, forced_by)
    SELECT paused.id, 'active', 'paused', 'certification_expired', p_idempotency_key,
           CASE WHEN coalesce(p_force, false) THEN coalesce(p_forced_by, 'unknown') END
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
        'forcedBy', CASE WHEN coalesce(p_force, false) THEN p_forced_by END,
        'dryRun', false);
END
$$;

COMMENT ON FUNCTION public.certification_expiry_check(date, text, integer[], boolean, boolean, numeric, integer, integer, text) IS
    'The nightly certification expiry check (see migrations 0003 and 0004 for the rule, the guard and the result).';

REVOKE ALL ON FUNCTION public.certification_expiry_check(date, text, integer[], boolean, boolean, numeric, integer, integer, text) FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.certification_expiry_check(date, text, integer[], boolean, boolean, numeric, integer, integer, text) TO service_role;
