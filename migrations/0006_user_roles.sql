-- Dashboard roles are `viewer` (reads) and `admin` (also acknowledges
-- alerts); version 1 called the first one `user`.
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check;
UPDATE users SET role = 'viewer' WHERE role = 'user';
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('viewer', 'admin'));
