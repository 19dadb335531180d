-- One database and one login role per service: each service owns its data and
-- no service can read another's tables (points 积分制, lists 五项清单,
-- audit 巡察/审计, talent 人才/干部).
--
-- Run once by the postgres image on an empty data directory
-- (/docker-entrypoint-initdb.d/), through psql. Passwords are not in this file:
-- psql reads them from the container's environment (\getenv, PostgreSQL 15+):
--   POINTS_DB_PASSWORD, LISTS_DB_PASSWORD, AUDIT_DB_PASSWORD, TALENT_DB_PASSWORD
-- To run it by hand against another server:
--   POINTS_DB_PASSWORD=... LISTS_DB_PASSWORD=... AUDIT_DB_PASSWORD=... \
--   TALENT_DB_PASSWORD=... psql -v ON_ERROR_STOP=1 -U postgres -f deploy/postgres/init.sql
--
-- The tables themselves are created by each service's Alembic migrations
-- (SHANZHI_MIGRATE_ON_START=true, or `alembic upgrade head`), never here.

\set ON_ERROR_STOP on

\getenv points_password POINTS_DB_PASSWORD
\getenv lists_password LISTS_DB_PASSWORD
\getenv audit_password AUDIT_DB_PASSWORD
\getenv talent_password TALENT_DB_PASSWORD

-- Refuse to create a role without a password.
\if :{?points_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'POINTS_DB_PASSWORD is not set'; END $$;
\endif
\if :{?lists_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'LISTS_DB_PASSWORD is not set'; END $$;
\endif
\if :{?audit_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'AUDIT_DB_PASSWORD is not set'; END $$;
\endif
\if :{?talent_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'TALENT_DB_PASSWORD is not set'; END $$;
\endif

-- points 积分制
CREATE ROLE points LOGIN PASSWORD :'points_password';
CREATE DATABASE points OWNER points ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE points FROM PUBLIC;  -- only the owner connects

-- lists 五项清单
CREATE ROLE lists LOGIN PASSWORD :'lists_password';
CREATE DATABASE lists OWNER lists ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE lists FROM PUBLIC;

-- audit 巡察/审计
CREATE ROLE audit LOGIN PASSWORD :'audit_password';
CREATE DATABASE audit OWNER audit ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE audit FROM PUBLIC;

-- talent 人才/干部
CREATE ROLE talent LOGIN PASSWORD :'talent_password';
CREATE DATABASE talent OWNER talent ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE talent FROM PUBLIC;

-- In each database the owner's role owns the public schema too, so its
-- migrations can create tables there and nobody else can.
\connect points
ALTER SCHEMA public OWNER TO points;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
\connect lists
ALTER SCHEMA public OWNER TO lists;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
\connect audit
ALTER SCHEMA public OWNER TO audit;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
\connect talent
ALTER SCHEMA public OWNER TO talent;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
