#!/bin/sh
# Installs jobvisor as a systemd service. Safe to run again (upgrades): binaries, units
# and the example config are replaced, the operator's config and the state are kept.
# Run `deploy/install.sh --help` for the options.
set -eu
# Directories created on the way (/usr/local/share/...) must be readable by everyone,
# whatever umask the caller has; private modes are set explicitly below.
umask 022

usage() {
    cat <<'EOF'
Usage: deploy/install.sh [--bin-dir DIR] [--prefix ROOT]

Installs jobvisor and jobvisor-worker with the systemd units, the config and the state
directory:

  /usr/local/bin/jobvisor, /usr/local/bin/jobvisor-worker
  /etc/systemd/system/jobvisor.service, /etc/systemd/system/jobvisor@.service
  /etc/jobvisor/jobvisor.toml          only if absent: an existing config is never touched
  /etc/jobvisor/jobvisor.toml.example  always the example of this version
  /var/lib/jobvisor                    state directory, mode 0700, owned by jobvisor
  /usr/local/share/doc/jobvisor/README.md
  shell completions and the man pages (jobvisor(1), jobvisor-serve(1), ... in
  /usr/local/share/man/man1), when the binary can generate them

Options:
  --bin-dir DIR   where the built binaries are (default: target/release of this
                  repository; build them with `cargo build --release`)
  --prefix ROOT   install below ROOT instead of / (same layout; for packaging and
                  tests): no user is created, no ownership is changed and systemd is
                  not reloaded. Without it the script must run as root.
  -h, --help      show this help

Without --prefix, creates the system user and group `jobvisor` if missing and runs
`systemctl daemon-reload` when systemd is running. It does not enable, start or
restart the service; afterwards:

  systemctl enable --now jobvisor      first install
  systemctl restart jobvisor           upgrade (running jobs drain first)
EOF
}

die() {
    echo "install.sh: error: $*" >&2
    exit 1
}

note() {
    echo "install.sh: $*"
}

script_dir=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
bin_dir="$repo_root/target/release"
prefix=""

while [ $# -gt 0 ]; do
    case $1 in
        --bin-dir)
            [ $# -ge 2 ] || die "--bin-dir needs a directory"
            bin_dir=$2
            shift 2
            ;;
        --bin-dir=*)
            bin_dir=${1#*=}
            shift
            ;;
        --prefix)
            [ $# -ge 2 ] || die "--prefix needs a directory"
            prefix=$2
            shift 2
            ;;
        --prefix=*)
            prefix=${1#*=}
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            die "unknown argument \`$1\` (see --help)"
            ;;
    esac
done

# --- Checks before anything is written ------------------------------------------------------

case $prefix in
    "" | / | //) staged=no ;;
    *) staged=yes ;;
esac
if [ "$staged" = no ] && [ "$(id -u)" -ne 0 ]; then
    die "installing into / needs root: run it with sudo, or use --prefix ROOT to install into a staging directory"
fi

for name in jobvisor jobvisor-worker; do
    if [ ! -f "$bin_dir/$name" ]; then
        die "$bin_dir/$name not found. Build the binaries first:
    cd $repo_root && cargo build --release
or point at them with --bin-dir DIR (with CARGO_TARGET_DIR set: --bin-dir \$CARGO_TARGET_DIR/release)"
    fi
    [ -x "$bin_dir/$name" ] || die "$bin_dir/$name is not executable"
done
for file in jobvisor.service jobvisor@.service jobvisor.toml README.md; do
    [ -f "$script_dir/$file" ] || die "$script_dir/$file is missing: run this script from a complete jobvisor checkout"
done

root=""
if [ "$staged" = yes ]; then
    mkdir -p "$prefix"
    root=$(cd "$prefix" && pwd)
fi

# --- Helpers --------------------------------------------------------------------------------

# install_file SRC DEST MODE: copies SRC to DEST unless DEST already has the same content,
# through a temporary file and a rename, so a running binary is never written in place.
install_file() {
    src=$1
    dest=$2
    mode=$3
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        chmod "$mode" "$dest"
        note "unchanged  $dest"
        return 0
    fi
    tmp="$dest.install.$$"
    cp "$src" "$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$dest"
    note "installed  $dest"
}

# make_dir DIR: creates DIR and its parents if missing; leaves existing ones alone.
make_dir() {
    [ -d "$1" ] || mkdir -p "$1"
}

# own_dir DIR MODE [OWNER]: a directory that belongs to jobvisor: created if missing,
# and its mode (and owner, only when not staging) set every time.
own_dir() {
    mkdir -p "$1"
    chmod "$2" "$1"
    if [ $# -ge 3 ] && [ "$staged" = no ]; then
        chown "$3" "$1"
    fi
}

# generated FILE COMMAND...: runs the installed-to-be jobvisor with COMMAND and installs
# its output as FILE; skips with a note if this jobvisor cannot do it (older binary).
generated() {
    dest=$1
    shift
    out="$work/generated"
    if "$bin_dir/jobvisor" "$@" >"$out" 2>/dev/null && [ -s "$out" ]; then
        make_dir "$(dirname "$dest")"
        install_file "$out" "$dest" 0644
    else
        note "skipped    $dest (this jobvisor has no \`$*\` command yet)"
    fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

# --- The user ---------------------------------------------------------------------------

if [ "$staged" = no ]; then
    if ! getent group jobvisor >/dev/null 2>&1; then
        groupadd --system jobvisor
        note "created group jobvisor"
    fi
    if ! id -u jobvisor >/dev/null 2>&1; then
        nologin=/usr/sbin/nologin
        [ -x "$nologin" ] || nologin=/sbin/nologin
        [ -x "$nologin" ] || nologin=/bin/false
        useradd --system --no-create-home --home-dir /var/lib/jobvisor \
            --gid jobvisor --shell "$nologin" --comment "jobvisor daemon" jobvisor
        note "created user jobvisor"
    fi
fi

# --- Files --------------------------------------------------------------------------------

make_dir "$root/usr/local/bin"
install_file "$bin_dir/jobvisor-worker" "$root/usr/local/bin/jobvisor-worker" 0755
# The daemon last: it is what starts workers, so a new daemon never meets an old worker
# binary next to it (an old daemon meeting a new worker refuses it on the protocol
# version and backs off until it is restarted).
install_file "$bin_dir/jobvisor" "$root/usr/local/bin/jobvisor" 0755

make_dir "$root/etc/systemd/system"
install_file "$script_dir/jobvisor.service" "$root/etc/systemd/system/jobvisor.service" 0644
install_file "$script_dir/jobvisor@.service" "$root/etc/systemd/system/jobvisor@.service" 0644

# The config is read by the daemon (group jobvisor) and written by root only.
own_dir "$root/etc/jobvisor" 0750 root:jobvisor
install_file "$script_dir/jobvisor.toml" "$root/etc/jobvisor/jobvisor.toml.example" 0644
config="$root/etc/jobvisor/jobvisor.toml"
if [ -e "$config" ]; then
    if cmp -s "$script_dir/jobvisor.toml" "$config"; then
        note "unchanged  $config"
    else
        note "kept       $config (yours; compare with jobvisor.toml.example for new keys)"
    fi
else
    install_file "$script_dir/jobvisor.toml" "$config" 0640
    [ "$staged" = yes ] || chown root:jobvisor "$config"
fi

# systemd creates it too (StateDirectory=); made here so that the layout is complete
# before the first start. Only the directory itself: its contents belong to the daemon.
own_dir "$root/var/lib/jobvisor" 0700 jobvisor:jobvisor

own_dir "$root/usr/local/share/doc/jobvisor" 0755
install_file "$script_dir/README.md" "$root/usr/local/share/doc/jobvisor/README.md" 0644

generated "$root/usr/local/share/bash-completion/completions/jobvisor" completions bash
generated "$root/usr/local/share/zsh/site-functions/_jobvisor" completions zsh
generated "$root/usr/local/share/fish/vendor_completions.d/jobvisor.fish" completions fish
# The man pages: jobvisor(1) and one per subcommand (jobvisor-serve(1), ...).
man_dir="$root/usr/local/share/man/man1"
if "$bin_dir/jobvisor" man --dir "$work/man" >/dev/null 2>&1 && [ -s "$work/man/jobvisor.1" ]; then
    make_dir "$man_dir"
    for page in "$work"/man/*.1; do
        install_file "$page" "$man_dir/$(basename "$page")" 0644
    done
else
    generated "$man_dir/jobvisor.1" man
fi

# --- systemd ------------------------------------------------------------------------------

if [ "$staged" = yes ]; then
    note "staged below $root: no user created, systemd not reloaded"
elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload
    note "systemd reloaded. First install: systemctl enable --now jobvisor; upgrade: systemctl restart jobvisor"
else
    note "systemd is not running here: the units are installed but not loaded"
fi
