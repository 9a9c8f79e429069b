-- PostgreSQL bootstrap for `docker compose`: the same layout infra/stack.py builds for
-- the local stack. Database `platform`; per service a login role `<svc>` (password
-- `<svc>`, development only) that owns schema `<svc>`, has it as search_path and can
-- touch nothing else. Run once by the postgres image on an empty data volume.

CREATE DATABASE platform;
REVOKE ALL ON DATABASE platform FROM PUBLIC;

CREATE ROLE identity LOGIN PASSWORD 'identity';
GRANT CONNECT, TEMPORARY ON DATABASE platform TO identity;
ALTER ROLE identity IN DATABASE platform SET search_path = identity;

CREATE ROLE content LOGIN PASSWORD 'content';
GRANT CONNECT, TEMPORARY ON DATABASE platform TO content;
ALTER ROLE content IN DATABASE platform SET search_path = content;

CREATE ROLE messaging LOGIN PASSWORD 'messaging';
GRANT CONNECT, TEMPORARY ON DATABASE platform TO messaging;
ALTER ROLE messaging IN DATABASE platform SET search_path = messaging;

CREATE ROLE moderation LOGIN PASSWORD 'moderation';
GRANT CONNECT, TEMPORARY ON DATABASE platform TO moderation;
ALTER ROLE moderation IN DATABASE platform SET search_path = moderation;

CREATE ROLE search LOGIN PASSWORD 'search';
GRANT CONNECT, TEMPORARY ON DATABASE platform TO search;
ALTER ROLE search IN DATABASE platform SET search_path = search;

CREATE ROLE ai LOGIN PASSWORD 'ai';
GRANT CONNECT, TEMPORARY ON DATABASE platform TO ai;
ALTER ROLE ai IN DATABASE platform SET search_path = ai;

CREATE ROLE economy LOGIN PASSWORD 'economy';
GRANT CONNECT, TEMPORARY ON DATABASE platform TO economy;
ALTER ROLE economy IN DATABASE platform SET search_path = economy;

\connect platform
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA identity AUTHORIZATION identity;
CREATE SCHEMA content AUTHORIZATION content;
CREATE SCHEMA messaging AUTHORIZATION messaging;
CREATE SCHEMA moderation AUTHORIZATION moderation;
CREATE SCHEMA search AUTHORIZATION search;
CREATE SCHEMA ai AUTHORIZATION ai;
CREATE SCHEMA economy AUTHORIZATION economy;
