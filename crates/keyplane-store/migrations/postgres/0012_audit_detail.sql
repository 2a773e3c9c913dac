-- Free-text detail for audit events whose facts do not fit the other columns (an EAS terminal
-- session's start, end and bytes each way). NULL for every earlier event. The use-case
-- functions of 0004 keep writing events without it.
ALTER TABLE audit_events ADD COLUMN detail TEXT;
