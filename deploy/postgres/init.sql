-- Run once by the postgres image on an empty data directory
-- (/docker-entrypoint-initdb.d): one database per BPC service, owned by POSTGRES_USER.
-- Each service creates its own tables with Alembic at start-up.
-- `gateway` is created last: the compose healthcheck waits for it.
CREATE DATABASE org;
CREATE DATABASE customer;
CREATE DATABASE opportunity;
CREATE DATABASE worklog;
CREATE DATABASE alerts;
CREATE DATABASE experience;
CREATE DATABASE scoring;
CREATE DATABASE gateway;
