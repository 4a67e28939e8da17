<?php
// PHP's built-in server in front of Debian's WordPress (scripts/wordpress.sh): files that exist are served
// as they are (PHP files run); every other path goes to index.php, as Apache's rewrite rules would send it,
// so that /wp-json/... reaches the REST API.
// Debian's wp-config.php picks /etc/wordpress/config-<WORDPRESS_CONFIG>.php (README.Debian)
$_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?: '/';
$file = realpath($_SERVER['DOCUMENT_ROOT'] . $path);
if ($file !== false && is_file($file) && str_starts_with($file, realpath($_SERVER['DOCUMENT_ROOT']))) {
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $_SERVER['DOCUMENT_ROOT'] . '/index.php';
$_SERVER['PHP_SELF'] = '/index.php';
require $_SERVER['DOCUMENT_ROOT'] . '/index.php';
