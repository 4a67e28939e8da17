<?php
// Run by scripts/wordpress.sh with PHP's CLI: installs the site once (an administrator, pretty permalinks so
// that /wp-json/ answers), gives the processors connector an application password (Basic auth; written to
// connector.env in the state folder, made again only when that file is missing), and seeds a few people once:
// the demo site's newsletter subscriber, who also commented, and a customer with an account.
$port = getenv('WORDPRESS_PORT');
$state = getenv('WORDPRESS_STATE');
$_SERVER['HTTP_HOST'] = "127.0.0.1:$port";
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/user.php';

const ADMIN = 'privacy-admin';

if (!is_blog_installed()) {
    wp_install('Je zaak voor Elkaar (demo)', ADMIN, 'beheer@jezaakvoorelkaar.example', false, '', wp_generate_password(32));
    update_option('permalink_structure', '/%postname%/');
    delete_option('rewrite_rules');
    echo "installed\n";
}

if (!get_option('privacy_seeded')) {
    $nina = wp_insert_user([
        'user_login' => 'nina', 'user_email' => 'nieuwsbrief@example.nl', 'first_name' => 'Nina',
        'last_name' => 'Nieuwsbrief', 'display_name' => 'Nina Nieuwsbrief', 'role' => 'subscriber',
        'user_pass' => wp_generate_password(32),
    ]);
    wp_insert_comment([
        'comment_post_ID' => 1, 'comment_author' => 'Nina Nieuwsbrief', 'comment_author_email' => 'nieuwsbrief@example.nl',
        'comment_content' => 'Mooi artikel! Komt er een vervolg?', 'comment_approved' => 1, 'user_id' => is_wp_error($nina) ? 0 : $nina,
    ]);
    wp_insert_comment([
        'comment_post_ID' => 1, 'comment_author' => 'Karel Klant', 'comment_author_email' => 'klant@example.nl',
        'comment_content' => 'Bedankt voor de snelle hulp.', 'comment_approved' => 1,
    ]);
    update_option('privacy_seeded', 1);
    echo "seeded\n";
}

$env = "$state/connector.env";
if (!file_exists($env)) {
    $admin = get_user_by('login', ADMIN);
    foreach (WP_Application_Passwords::get_user_application_passwords($admin->ID) as $item) {
        if ($item['name'] === 'privacy-processors') {
            WP_Application_Passwords::delete_application_password($admin->ID, $item['uuid']);
        }
    }
    $made = WP_Application_Passwords::create_new_application_password($admin->ID, ['name' => 'privacy-processors']);
    if (is_wp_error($made)) {
        fwrite(STDERR, $made->get_error_message() . "\n");
        exit(1);
    }
    file_put_contents($env, implode("\n", [
        "export PROCESSORS_WORDPRESS_BASE_URL=http://127.0.0.1:$port",
        'export PROCESSORS_WORDPRESS_USERNAME=' . ADMIN,
        "export PROCESSORS_WORDPRESS_PASSWORD={$made[0]}",
        "export PROCESSORS_WORDPRESS_REASSIGN={$admin->ID}",
        '',
    ]));
    chmod($env, 0600);
    echo "application password made\n";
}
