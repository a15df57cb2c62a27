# Helpers shared by scripts/test.sh and scripts/install-deps.sh (sourced).

say() { printf '\n==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }

# Runs "$@" as root: directly, through sudo -n, or fails with a warning.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        warn "not root and no sudo: cannot run '$*'"
        return 1
    fi
}
