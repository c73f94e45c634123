-- The business hours of the site (SPEC section 14): one row at most, the schedule as
-- the normalised document admins write; no row means always open.
CREATE TABLE business_hours (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    schedule   jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid REFERENCES specialists (id) ON DELETE SET NULL
);
