-- docker-compose: one database per service (privacy_consent is created by POSTGRES_DB).
CREATE DATABASE privacy_dsar OWNER privacy;
CREATE DATABASE privacy_breach OWNER privacy;
CREATE DATABASE privacy_processors OWNER privacy;
CREATE DATABASE privacy_console OWNER privacy;  -- the console's signed-out sessions only
