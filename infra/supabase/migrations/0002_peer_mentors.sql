-- 0002: peer mentors, their certifications, expiry notices and the status audit trail.
--
-- Independent of Supabase Auth: coordinator_id is a plain uuid, no foreign key to
-- auth.users. Row level security is enabled on every table with no policy, so anon and
-- authenticated see nothing; the nightly check runs as service_role (BYPASSRLS).

CREATE TABLE IF NOT EXISTS public.peer_mentors (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    display_name   text,
    status         text NOT NULL DEFAULT 'active'
                   CONSTRAINT peer_mentors_status_check CHECK (status IN ('active', 'paused', 'inactive')),
    pause_reason   text,
    paused_at      timestamptz,
    coordinator_id uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.peer_mentors IS
    'Peer mentors. Only status = active mentors are shown on the public website.';
COMMENT ON COLUMN public.peer_mentors.pause_reason IS
    'Why the mentor was paused, e.g. certification_expired (set by the nightly check).';

CREATE INDEX IF NOT EXISTS peer_mentors_status_idx ON public.peer_mentors (status);
CREATE INDEX IF NOT EXISTS peer_mentors_coordinator_idx ON public.peer_mentors (coordinator_id);

CREATE TABLE IF NOT EXISTS public.peer_mentor_certifications (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    peer_mentor_id     uuid NOT NULL REFERENCES public.peer_mentors (id) ON DELETE CASCADE,
    certification_type text NOT NULL DEFAULT 'peer_mentor',
    issued_on          date,
    expires_on         date NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT peer_mentor_certifications_dates_check CHECK (issued_on IS NULL OR issued_on <= expires_on)
);
COMMENT ON TABLE public.peer_mentor_certifications IS
    'A mentor is certified through the latest expires_on among their rows (renewal = a new row).';

-- Serves "the latest expires_on of one mentor" (the renewal check) by index only.
CREATE INDEX IF NOT EXISTS peer_mentor_certifications_mentor_expiry_idx
    ON public.peer_mentor_certifications (peer_mentor_id, expires_on DESC);
-- Serves "certifications expiring within N days" as a range scan.
CREATE INDEX IF NOT EXISTS peer_mentor_certifications_expiry_idx
    ON public.peer_mentor_certifications (expires_on);

CREATE TABLE IF NOT EXISTS public.certification_expiry_notices (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    certification_id uuid NOT NULL REFERENCES public.peer_mentor_certifications (id) ON DELETE CASCADE,
    peer_mentor_id   uuid NOT NULL REFERENCES public.peer_mentors (id) ON DELETE CASCADE,
    notice_kind      text NOT NULL DEFAULT 'expiring'
                     CONSTRAINT certification_expiry_notices_kind_check CHECK (notice_kind IN ('expiring')),
    threshold_days   integer NOT NULL
                     CONSTRAINT certification_expiry_notices_threshold_check CHECK (threshold_days > 0),
    expires_on       date NOT NULL,
    as_of            date NOT NULL,
    idempotency_key  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    acknowledged_at  timestamptz,
    -- One notice per certification, kind and threshold, ever: the check inserts with
    -- ON CONFLICT DO NOTHING, so re-runs and retries never repeat a notice.
    CONSTRAINT certification_expiry_notices_once UNIQUE (certification_id, notice_kind, threshold_days)
);
COMMENT ON TABLE public.certification_expiry_notices IS
    'Certifications about to expire, for coordinators to act on (one per certification and threshold).';
COMMENT ON COLUMN public.certification_expiry_notices.idempotency_key IS
    'The scheduler run (job@slot) that created the notice.';

CREATE INDEX IF NOT EXISTS certification_expiry_notices_run_idx
    ON public.certification_expiry_notices (idempotency_key);
CREATE INDEX IF NOT EXISTS certification_expiry_notices_mentor_idx
    ON public.certification_expiry_notices (peer_mentor_id);

CREATE TABLE IF NOT EXISTS public.peer_mentor_status_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    peer_mentor_id  uuid NOT NULL REFERENCES public.peer_mentors (id) ON DELETE CASCADE,
    from_status     text NOT NULL,
    to_status       text NOT NULL,
    reason          text,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.peer_mentor_status_events IS
    'Audit trail: one row for every status change of a mentor.';
COMMENT ON COLUMN public.peer_mentor_status_events.idempotency_key IS
    'The scheduler run (job@slot) that made the change, when a job made it.';

CREATE INDEX IF NOT EXISTS peer_mentor_status_events_run_idx
    ON public.peer_mentor_status_events (idempotency_key);
CREATE INDEX IF NOT EXISTS peer_mentor_status_events_mentor_idx
    ON public.peer_mentor_status_events (peer_mentor_id, created_at);

ALTER TABLE public.peer_mentors ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.peer_mentor_certifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.certification_expiry_notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.peer_mentor_status_events ENABLE ROW LEVEL SECURITY;

-- Supabase's default privileges grant everything on new tables to anon and
-- authenticated; this data is not for them.
REVOKE ALL ON TABLE public.peer_mentors, public.peer_mentor_certifications,
                    public.certification_expiry_notices, public.peer_mentor_status_events
    FROM PUBLIC, anon, authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE
    public.peer_mentors, public.peer_mentor_certifications,
    public.certification_expiry_notices, public.peer_mentor_status_events
    TO service_role;
GRANT USAGE, SELECT ON SEQUENCE
    public.certification_expiry_notices_id_seq, public.peer_mentor_status_events_id_seq
    TO service_role;
