"""The nginx configuration of the web domains (`conf.d/local.conf`, SYSTEM.md §2.2).

Pure text: `render` is given every fact (domains, roots, certificates, customisations, paths)
and reads no file itself. Each value that comes from outside this module passes a validator
of `core.formats` (`nginx_name`, `nginx_path`, `nginx_value`), so no domain, path or
`www/custom.yaml` value can add a directive or a line: a value that would is written quoted,
or refused with `FormatError`.

What is emitted, per domain, as the reference does:

* a port-80 server that answers every request with a 301 to `https://<domain>`, except the
  ACME HTTP-01 challenge folder, served from the box's ACME web root;
* a port-443 server (`ssl http2`) with the domain's certificate and key, the
  `# ssl files sha1:` comment (so a new certificate changes the file, and nginx is reloaded),
  then by kind of domain:

  - the primary hostname: the static site and client set-up files below, plus the `/admin/`
    proxy to the API (`X-Forwarded-For $remote_addr`, which the API believes from loopback
    only), Nextcloud and its DAV and `.well-known` redirects;
  - another domain: the static site (root, index, `/robots.txt`, `/favicon.ico`), the client
    set-up files (`/mailinabox.mobileconfig`, Thunderbird autoconfig, `/.well-known/mta-sts.txt`),
    Roundcube at `/mail/`, Z-Push (ActiveSync and autodiscover), dotfiles denied;
  - a domain whose `/` is proxied or redirected in `www/custom.yaml`: none of that;
  - a `www.` redirect domain: a permanent redirect to the domain without `www.`;

  and last the domain's proxies, aliases and redirects from `www/custom.yaml`, the HSTS header,
  and `include STORAGE_ROOT/www/<domain>.conf` when that file exists.

Roundcube, Z-Push and Nextcloud are PHP programs behind php-fpm, which this product does not
install. Their locations are emitted anyway: on a Mail-in-a-Box they are what serves webmail,
ActiveSync and Nextcloud, and a web update must not take those away. nginx loads them without
the programs (an upstream socket is only connected to per request; an alias need not exist),
so `nginx -t` passes on a machine without PHP; there those paths answer 502 or 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from core.formats import nginx_name, nginx_path, nginx_value
from core.web.custom import SiteCustom

SiteKind = Literal["primary", "static", "proxied", "www-redirect"]

HSTS_HEADERS: Final = {
    "yes": '"max-age=15768000"',
    "preload": '"max-age=15768000; includeSubDomains; preload"',
}
# The port-80 server serves no files but the challenges: its root is a folder that never exists.
NO_ROOT: Final = "/tmp/invalid-path-nothing-here"


@dataclass(frozen=True, slots=True)
class Listen:
    """Where the servers listen. `addresses`: "" is every IPv4 address (`listen 80`), `[::]`
    every IPv6 one, anything else that address. Tests use a loopback address and high ports."""

    http_port: int = 80
    https_port: int = 443
    addresses: tuple[str, ...] = ("", "[::]")

    def lines(self, port: int, options: str = "") -> list[str]:
        suffix = f" {options}" if options else ""
        return [f"listen {a + ':' if a else ''}{port}{suffix};" for a in self.addresses]


@dataclass(frozen=True, slots=True)
class Programs:
    """Where the programs behind some locations live on a Mail-in-a-Box (setup installs them
    there), the php-fpm socket, the files setup writes for mail clients, and the API's port."""

    php_fpm_socket: str = "/var/run/php/php8.0-fpm.sock"
    fastcgi_params: str = "/etc/nginx/fastcgi_params"
    roundcube: str = "/usr/local/lib/roundcubemail/"
    zpush: str = "/usr/local/lib/z-push"
    nextcloud: str = "/usr/local/lib/owncloud/"
    admin_assets: str = "/usr/local/lib/mailinabox/vendor/assets"
    mobileconfig: str = "/var/lib/mailinabox/mobileconfig.xml"
    autoconfig: str = "/var/lib/mailinabox/mozilla-autoconfig.xml"
    mta_sts: str = "/var/lib/mailinabox/mta-sts.txt"
    api_port: int = 10222


@dataclass(frozen=True, slots=True)
class Site:
    """One web domain, with everything its servers need."""

    domain: str
    kind: SiteKind
    root: str
    certificate: str
    key: str
    key_sha1: str
    certificate_sha1: str
    custom: SiteCustom = field(default_factory=SiteCustom)
    include: str | None = None


def _block(head: str, body: Iterable[str]) -> list[str]:
    """`head {`, the body one level in (blank lines stay blank), `}`."""
    return [f"{head} {{", *(f"\t{line}" if line else "" for line in body), "}"]


def _path_token(path: str, rest: str = "", *, prefix: str = "") -> str:
    """An absolute path (checked as `nginx_path` checks it) between `prefix` and `rest`
    (variables), as one token."""
    nginx_path(path)
    return nginx_value(prefix + path + rest)


def _header(programs: Programs) -> list[str]:
    return [
        "## Generated by miab-tui from the box's domains, certificates and www/ folder.",
        "## A web update rewrites it: edits made here are lost. Per-domain directives",
        "## belong in STORAGE_ROOT/www/custom.yaml or STORAGE_ROOT/www/<domain>.conf.",
        "##",
        "## Webmail (Roundcube), ActiveSync (Z-Push) and Nextcloud run under php-fpm when they",
        "## are installed (as on a Mail-in-a-Box). Their locations are always written, so a web",
        "## update never takes them away; without php-fpm nginx still loads them and those",
        "## paths answer 502.",
        "",
        *_block(
            "upstream php-fpm", [f"server {_path_token(programs.php_fpm_socket, prefix='unix:')};"]
        ),
        "",
    ]


def _http_server(domain: str, acme_webroot: str, listen: Listen) -> list[str]:
    challenges = nginx_path(acme_webroot.rstrip("/") + "/.well-known/acme-challenge/")
    return [
        "# Port 80: every request moves to HTTPS, except the ACME HTTP-01 challenge files,",
        "# which a CA fetches over plain HTTP.",
        *_block(
            "server",
            [
                *listen.lines(listen.http_port),
                "",
                f"server_name {domain};",
                f"root {NO_ROOT};",
                "",
                "# No nginx version on error pages or in the Server header.",
                "server_tokens off;",
                "",
                *_block("location /", [f"return 301 https://{domain}$request_uri;"]),
                "",
                *_block(
                    "location /.well-known/acme-challenge/",
                    [
                        "# Where the certificate provisioning puts the challenge files.",
                        f"alias {challenges};",
                    ],
                ),
            ],
        ),
    ]


def _static_site(site: Site, programs: Programs) -> list[str]:
    """The site every regular domain serves: static files, client set-up, webmail, ActiveSync."""
    fastcgi = f"include {nginx_path(programs.fastcgi_params)};"
    roundcube = programs.roundcube
    php_path = "include_path=.:/usr/share/php:/usr/share/pear:/usr/share/awl/inc"
    return [
        "# The domain's static site.",
        f"root {nginx_path(site.root)};",
        "index index.html index.htm;",
        "",
        *_block("location = /robots.txt", ["log_not_found off;", "access_log off;"]),
        "",
        *_block("location = /favicon.ico", ["log_not_found off;", "access_log off;"]),
        "",
        "# Set-up files for mail clients, and the MTA-STS policy.",
        *_block(
            "location = /mailinabox.mobileconfig", [f"alias {nginx_path(programs.mobileconfig)};"]
        ),
        *_block(
            "location = /.well-known/autoconfig/mail/config-v1.1.xml",
            [f"alias {nginx_path(programs.autoconfig)};"],
        ),
        *_block("location = /mail/config-v1.1.xml", [f"alias {nginx_path(programs.autoconfig)};"]),
        *_block("location = /.well-known/mta-sts.txt", [f"alias {nginx_path(programs.mta_sts)};"]),
        "",
        "# Roundcube webmail (PHP).",
        "rewrite ^/mail$ /mail/ redirect;",
        "rewrite ^/mail/$ /mail/index.php;",
        *_block("location /mail/", ["index index.php;", f"alias {nginx_path(roundcube)};"]),
        *_block(
            "location ~ /mail/config/.*",
            ["# Roundcube's settings are not for the web.", "return 403;"],
        ),
        *_block(
            "location ~ /mail/.*\\.php",
            [
                fastcgi,
                "fastcgi_split_path_info ^/mail(/.*)()$;",
                "fastcgi_index index.php;",
                f"fastcgi_param SCRIPT_FILENAME {_path_token(roundcube, '$fastcgi_script_name')};",
                "fastcgi_pass php-fpm;",
                "# Mail is sent through here too: the same size limit as Postfix's.",
                "client_max_body_size 128M;",
            ],
        ),
        "",
        "# Z-Push: Exchange ActiveSync and its autodiscover (PHP).",
        *_block(
            "location /Microsoft-Server-ActiveSync",
            [
                fastcgi,
                f"fastcgi_param SCRIPT_FILENAME {nginx_path(programs.zpush + '/index.php')};",
                f'fastcgi_param PHP_VALUE "{php_path}";',
                "fastcgi_read_timeout 630;",
                "fastcgi_pass php-fpm;",
                "client_max_body_size 128M;",
            ],
        ),
        *_block(
            "location ~* ^/autodiscover/autodiscover.xml$",
            [
                fastcgi,
                "fastcgi_param SCRIPT_FILENAME "
                f"{nginx_path(programs.zpush + '/autodiscover/autodiscover.php')};",
                f'fastcgi_param PHP_VALUE "{php_path}";',
                "fastcgi_pass php-fpm;",
            ],
        ),
        "",
    ]


def _deny_dotfiles() -> list[str]:
    return [
        "",
        "# Dotfiles (.htaccess, .git, ...) are never served. Last, so that this regex location",
        "# does not win over the PHP locations above (Nextcloud serves such names).",
        *_block(
            "location ~ /\\.(ht|svn|git|hg|bzr)",
            ["log_not_found off;", "access_log off;", "deny all;"],
        ),
    ]


def _primary_only(programs: Programs, https_port: int) -> list[str]:
    """The primary hostname's extras: the admin API, Nextcloud and DAV."""
    nextcloud = programs.nextcloud
    fastcgi = f"include {nginx_path(programs.fastcgi_params)};"
    local_https = "https://127.0.0.1" + ("" if https_port == 443 else f":{https_port}")
    return [
        "# The admin API (listening on 127.0.0.1 only). It believes X-Forwarded-For from",
        "# loopback, so this is where the client's address comes from.",
        *_block("location /admin/assets", [f"alias {nginx_path(programs.admin_assets)};"]),
        "rewrite ^/admin$ /admin/;",
        "rewrite ^/admin/munin$ /admin/munin/ redirect;",
        *_block(
            "location /admin/",
            [
                f"proxy_pass http://127.0.0.1:{int(programs.api_port)}/;",
                "proxy_set_header X-Forwarded-For $remote_addr;",
                'add_header X-Frame-Options "DENY";',
                "add_header X-Content-Type-Options nosniff;",
                "add_header Content-Security-Policy \"frame-ancestors 'none';\";",
            ],
        ),
        "",
        "# Nextcloud (PHP).",
        "rewrite ^/cloud$ /cloud/ redirect;",
        "rewrite ^/cloud/$ /cloud/index.php;",
        "rewrite ^/cloud/(contacts|calendar|files)$ /cloud/index.php/apps/$1/ redirect;",
        "rewrite ^(/cloud/core/doc/[^\\/]+/)$ $1/index.html;",
        "rewrite ^(/cloud/oc[sm]-provider)/$ $1/index.php redirect;",
        *_block(
            "location /cloud/",
            [
                f"alias {nginx_path(nextcloud)};",
                *_block(
                    "location ~ ^/cloud/(build|tests|config|lib|3rdparty|templates|data|README)/",
                    ["deny all;"],
                ),
                *_block(
                    "location ~ ^/cloud/(?:\\.|autotest|occ|issue|indie|db_|console)", ["deny all;"]
                ),
                "# Service and federation discovery.",
                *_block(
                    "location ~ ^/cloud/(oc[sm]-provider)?/([^/]+\\.php)$",
                    [
                        "index index.php;",
                        fastcgi,
                        f"fastcgi_param SCRIPT_FILENAME {_path_token(nextcloud, '$1/$2')};",
                        "fastcgi_pass php-fpm;",
                    ],
                ),
            ],
        ),
        *_block(
            "location ~ ^(/cloud)((?:/ocs)?/[^/]+\\.php)(/.*)?$",
            [
                "# index.php, remote.php, ocs/v1.php ... with their path info.",
                fastcgi,
                f"fastcgi_param SCRIPT_FILENAME {_path_token(nextcloud, '$2')};",
                "fastcgi_param SCRIPT_NAME $1$2;",
                "fastcgi_param PATH_INFO $3;",
                "fastcgi_param MOD_X_ACCEL_REDIRECT_ENABLED on;",
                "fastcgi_param MOD_X_ACCEL_REDIRECT_PREFIX /owncloud-xaccel;",
                "fastcgi_read_timeout 630;",
                "fastcgi_pass php-fpm;",
                "client_max_body_size 1G;",
                "fastcgi_buffers 64 4K;",
            ],
        ),
        *_block(
            "location ^~ /owncloud-xaccel/",
            [
                "# Files Nextcloud hands to nginx by their path on disk: internal redirects only.",
                "internal;",
                "alias /;",
            ],
        ),
        *_block(
            "location ~ ^/((caldav|carddav|webdav).*)$",
            [
                "# Proxied rather than redirected: some clients do not follow redirects here.",
                f"proxy_pass {local_https}/cloud/remote.php/$1;",
            ],
        ),
        "rewrite ^/.well-known/host-meta /cloud/public.php?service=host-meta last;",
        "rewrite ^/.well-known/host-meta.json /cloud/public.php?service=host-meta-json last;",
        "rewrite ^/.well-known/carddav /cloud/remote.php/carddav/ redirect;",
        "rewrite ^/.well-known/caldav /cloud/remote.php/caldav/ redirect;",
        "rewrite ^/.well-known/webfinger /cloud/index.php/.well-known/webfinger redirect;",
        "rewrite ^/.well-known/nodeinfo /cloud/index.php/.well-known/nodeinfo redirect;",
        "",
    ]


def _custom(site: Site) -> list[str]:
    """The sha1 comment, then www/custom.yaml's directives, HSTS and the domain's include."""
    lines = [f"# ssl files sha1: {site.key_sha1} / {site.certificate_sha1}"]
    custom = site.custom
    for proxy in custom.proxies:
        body = [f"proxy_pass {nginx_value(proxy.url)};"]
        if "no-proxy-redirect" in proxy.flags:
            body.append("proxy_redirect off;")
        if "pass-http-host" in proxy.flags:
            body.append("proxy_set_header Host $http_host;")
        if "frame-options-sameorigin" in proxy.flags:
            body.append("proxy_set_header X-Frame-Options SAMEORIGIN;")
        if "web-sockets" in proxy.flags:
            body += [
                "proxy_http_version 1.1;",
                "proxy_set_header Upgrade $http_upgrade;",
                "proxy_set_header Connection 'Upgrade';",
            ]
        body += [
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "proxy_set_header X-Forwarded-Host $http_host;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
            "proxy_set_header X-Real-IP $remote_addr;",
        ]
        lines += _block(f"location {nginx_value(proxy.path)}", body)
    for path, folder in custom.aliases:
        lines += _block(f"location {nginx_value(path)}", [f"alias {nginx_value(folder)};"])
    for pattern, target in custom.redirects:
        lines.append(f"rewrite {nginx_value(pattern)} {nginx_value(target)} permanent;")
    header = HSTS_HEADERS.get(custom.hsts)
    if header:
        lines.append(f"add_header Strict-Transport-Security {header} always;")
    if site.include is not None:
        lines.append(f"include {nginx_path(site.include)};")
    return lines


def _https_server(domain: str, site: Site, programs: Programs, listen: Listen) -> list[str]:
    body = [
        *listen.lines(listen.https_port, "ssl http2"),
        "",
        f"server_name {domain};",
        "",
        "server_tokens off;",
        "",
        f"ssl_certificate {nginx_path(site.certificate)};",
        f"ssl_certificate_key {nginx_path(site.key)};",
        "",
    ]
    if site.kind == "primary":
        body += _static_site(site, programs)
        body += _primary_only(programs, listen.https_port)
        body += _custom(site)
        body += _deny_dotfiles()
    elif site.kind == "static":
        body += _static_site(site, programs)
        body += _custom(site)
        body += _deny_dotfiles()
    elif site.kind == "www-redirect":
        target = nginx_name(domain.removeprefix("www."))
        body.append(f"rewrite ^(.*) https://{target}$1 permanent;")
        body += _custom(site)
    else:
        body += _custom(site)
    return ["# HTTPS.", *_block("server", body)]


def render(
    sites: Sequence[Site],
    *,
    acme_webroot: str,
    programs: Programs = Programs(),
    listen: Listen = Listen(),
) -> str:
    """local.conf for `sites` (the primary hostname first: nginx's default server).

    Raises:
        FormatError: a value cannot be written as one nginx token (the text says which kind).
    """
    lines = _header(programs)
    for site in sites:
        domain = nginx_name(site.domain)
        lines += [f"## {domain}", ""]
        lines += _http_server(domain, acme_webroot, listen)
        lines.append("")
        lines += _https_server(domain, site, programs, listen)
        lines.append("")
    return "\n".join(lines)
