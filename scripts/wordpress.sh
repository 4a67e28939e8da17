#!/usr/bin/env bash
# A real WordPress (Debian's wordpress package: WordPress 6.1 on PHP 8.2 and MariaDB), for the WordPress
# connector's tests and for `make run`. Nothing here is a fake: the connector talks to WordPress's own REST API.
#   scripts/wordpress.sh start   install the Debian packages when missing; start MariaDB (its own data
#                                directory and socket, no TCP) and PHP's built-in server on
#                                127.0.0.1:${WORDPRESS_PORT:-8013}; install the site once, with an
#                                administrator and an application password for the connector; seed a few
#                                people (accounts and comments) once
#   scripts/wordpress.sh env     print the connector's settings (PROCESSORS_WORDPRESS_BASE_URL, _USERNAME,
#                                _PASSWORD: an application password, Basic auth) as shell exports
#   scripts/wordpress.sh stop    stop what start started
# Debian's WordPress reads its configuration from /etc/wordpress/config-<name>.php, chosen by the
# WORDPRESS_CONFIG variable (README.Debian): this script writes config-privacy-<port>.php there (as root, or
# through sudo, like the package install).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${WORDPRESS_PORT:-8013}
state=${WORDPRESS_STATE:-$root/var/wordpress-$port}
name=privacy-$port
config=/etc/wordpress/config-$name.php
socket=$state/mysqld.sock
log() { echo "wordpress.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install() {
  if [ -f /usr/share/wordpress/wp-settings.php ] && [ -x /usr/sbin/mariadbd ] && php -m 2>/dev/null | grep -qx mysqli; then
    return
  fi
  # php8.2-cgi satisfies the package's PHP dependency without Apache's module; the site runs on PHP's own server
  APT_OPTS=--no-install-recommends "$root/scripts/debian-install.sh" wordpress.sh \
    wordpress php8.2-cli php8.2-cgi php8.2-mysql mariadb-server
}

mysql_up() { [ -S "$socket" ] && mariadb-admin --socket="$socket" -uroot ping >/dev/null 2>&1; }
web_up() { curl -fsS -o /dev/null "http://127.0.0.1:$port/wp-json/" 2>/dev/null; }

start_mysql() {
  mkdir -p "$state/mysql"
  if [ ! -d "$state/mysql/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$state/mysql" --user="$(id -un)" \
      --auth-root-authentication-method=socket >"$state/mysql-install.log" 2>&1 \
      || { tail -n 20 "$state/mysql-install.log" >&2; exit 1; }
  fi
  if ! mysql_up; then
    /usr/sbin/mariadbd --no-defaults --datadir="$state/mysql" --socket="$socket" --skip-networking \
      --pid-file="$state/mysqld.pid" --user="$(id -un)" --log-error="$state/mysqld.log" \
      --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=2 >/dev/null 2>&1 &
    for _ in $(seq 1 60); do mysql_up && break; sleep 0.5; done
    mysql_up || { log "MariaDB did not start:"; tail -n 20 "$state/mysqld.log" >&2; exit 1; }
  fi
  mariadb --socket="$socket" -uroot <<SQL
create database if not exists wordpress character set utf8mb4;
create user if not exists 'wordpress'@'localhost' identified by 'wordpress';
grant all on wordpress.* to 'wordpress'@'localhost';
SQL
}

write_config() {
  local want
  want=$(cat <<PHP
<?php
// written by scripts/wordpress.sh: the test and demo site on 127.0.0.1:$port
define('DB_NAME', 'wordpress');
define('DB_USER', 'wordpress');
define('DB_PASSWORD', 'wordpress');
define('DB_HOST', 'localhost:$socket');
define('WP_CONTENT_DIR', '$state/wp-content');
define('WP_HOME', 'http://127.0.0.1:$port');
define('WP_SITEURL', 'http://127.0.0.1:$port');
// application passwords over plain HTTP on loopback: WordPress allows them for a "local" environment only
define('WP_ENVIRONMENT_TYPE', 'local');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
PHP
)
  mkdir -p "$state/wp-content/uploads"
  [ -e "$state/wp-content/themes" ] || ln -s /usr/share/wordpress/wp-content/themes "$state/wp-content/themes"
  [ -e "$state/wp-content/plugins" ] || ln -s /usr/share/wordpress/wp-content/plugins "$state/wp-content/plugins"
  if [ ! -f "$config" ] || [ "$(cat "$config")" != "$want" ]; then
    printf '%s\n' "$want" | as_root tee "$config" >/dev/null
  fi
}

start_web() {
  if web_up; then return; fi
  # several workers: the connector and a test (or two workers of the service) at once
  PHP_CLI_SERVER_WORKERS=${WORDPRESS_WORKERS:-4} WORDPRESS_CONFIG=$name nohup php -S "127.0.0.1:$port" -t /usr/share/wordpress \
    "$root/scripts/wordpress/router.php" >"$state/php.log" 2>&1 &
  echo $! >"$state/php.pid"
  for _ in $(seq 1 60); do web_up && return; sleep 0.5; done
  log "PHP's server did not answer:"; tail -n 20 "$state/php.log" >&2; exit 1
}

start() {
  install
  mkdir -p "$state"
  start_mysql
  write_config
  # install the site, its administrator and the connector's application password; seed people (once)
  WORDPRESS_CONFIG=$name WORDPRESS_PORT=$port WORDPRESS_STATE=$state \
    php -d variables_order=EGPCS "$root/scripts/wordpress/setup.php" >"$state/setup.log" 2>&1 \
    || { log "setting up the site failed:"; tail -n 20 "$state/setup.log" >&2; exit 1; }
  start_web
  log "WordPress on http://127.0.0.1:$port/ (data in $state)"
}

stop() {
  if [ -f "$state/php.pid" ]; then kill "$(cat "$state/php.pid")" 2>/dev/null || true; rm -f "$state/php.pid"; fi
  if mysql_up; then mariadb-admin --socket="$socket" -uroot shutdown >/dev/null 2>&1 || true; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) cat "$state/connector.env" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
