-- Times are text in one sortable form (sqlite_where.ts). Versions before this one wrote a year before 1000 with
-- fewer than four digits ("999-06-01T..."; strftime's %Y is not zero-padded on Linux), which sorts after every
-- later year: an expiration date in year 999 counted as in the future. Pad those years to four digits.
UPDATE projects SET created_at = substr('000', 1, 5 - instr(created_at, '-')) || created_at
  WHERE instr(created_at, '-') BETWEEN 2 AND 4;
UPDATE api_keys SET created_at = substr('000', 1, 5 - instr(created_at, '-')) || created_at
  WHERE instr(created_at, '-') BETWEEN 2 AND 4;
UPDATE api_keys SET revoked_at = substr('000', 1, 5 - instr(revoked_at, '-')) || revoked_at
  WHERE instr(revoked_at, '-') BETWEEN 2 AND 4;
UPDATE buckets SET created_at = substr('000', 1, 5 - instr(created_at, '-')) || created_at
  WHERE instr(created_at, '-') BETWEEN 2 AND 4;
UPDATE history SET created_at = substr('000', 1, 5 - instr(created_at, '-')) || created_at
  WHERE instr(created_at, '-') BETWEEN 2 AND 4;
UPDATE memories SET
  created_at = CASE WHEN instr(created_at, '-') BETWEEN 2 AND 4
    THEN substr('000', 1, 5 - instr(created_at, '-')) || created_at ELSE created_at END,
  updated_at = CASE WHEN instr(updated_at, '-') BETWEEN 2 AND 4
    THEN substr('000', 1, 5 - instr(updated_at, '-')) || updated_at ELSE updated_at END,
  expiration_date = CASE WHEN instr(expiration_date, '-') BETWEEN 2 AND 4
    THEN substr('000', 1, 5 - instr(expiration_date, '-')) || expiration_date ELSE expiration_date END
  WHERE instr(created_at, '-') BETWEEN 2 AND 4 OR instr(updated_at, '-') BETWEEN 2 AND 4
    OR instr(expiration_date, '-') BETWEEN 2 AND 4;
