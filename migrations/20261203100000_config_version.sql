-- Several instances share one database (DESIGN §7): one row counts committed configuration
-- changes. Every change (a dashboard form on any instance, `switchyard apply`) raises it in its
-- own transaction, and each instance reloads its snapshot when the row differs from the version
-- it serves. Additive only: an older build neither reads nor writes the table.
CREATE TABLE config_version (
    id      BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);
