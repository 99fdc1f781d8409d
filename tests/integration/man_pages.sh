#!/usr/bin/env bash
# The man pages cannot drift from the programs: every scepd and scep command, and each of their
# options, is in scepd(8) or scep(1) exactly as `--help` lists it and the program accepts it;
# every scepd.conf setting the parser knows is in scepd.conf(5) and in the example scepd.conf,
# and nothing else is (the uncommented example parses); every function libscep.so exports is
# in libscep(3). Each page renders without a warning from man and lexgrog finds its NAME.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
LIBSCEP=${LIBSCEP:-$ROOT/build/libscep.so}
MAN=$ROOT/man
cd "$WORK"
: > notadir # --dir for the acceptance runs: nothing can be created below a file

# 1. Each page renders cleanly.
for src in "$MAN"/*.scd; do
  page=$(basename "$src" .scd)
  scdoc < "$src" > "$page" || fail "scdoc $page"
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 > /dev/null || true)
  [ -z "$warnings" ] || fail "man --warnings $page: $warnings"
  lexgrog "$page" > /dev/null || fail "lexgrog finds no NAME in $page"
done
ok "the four pages render without warnings and have a NAME lexgrog reads"

# options_in_help TEXT: the long options a --help text names, sorted, without --help.
options_in_help() { grep -oE -- '--[a-z][a-z0-9-]*' | grep -vx -- '--help' | sort -u; }
# man_section PAGE CMD: the lines of PAGE's entry for command CMD (from "*CMD* ..." at the start
# of a line to the next such entry or heading).
man_section() {
  awk -v cmd="$2" '
    /^\*[a-z-]+\* / { on = ($0 ~ "^\\*" cmd "\\* ") }
    /^# / { on = 0 }
    on' "$1"
}
options_in_man() { grep -oE -- '\*--[a-z][a-z0-9-]*\*' | tr -d '*' | sort -u; }
# accepted PROGRAM CMD OPTION [ARGS...]: the program does not call OPTION unrecognized.
accepted() {
  local out
  out=$(cd "$WORK" && timeout 10 "$1" "$2" "$3" x "${@:4}" < /dev/null 2>&1 || true)
  ! grep -q -- "unrecognized option '$3'" <<< "$out"
}

# 2. scepd: the commands, and per command the options of --help == those in scepd(8).
commands=$("$SCEPD" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ "$(wc -w <<< "$commands")" -ge 14 ] || fail "scepd --help lists too few commands: $commands"
man_commands=$(grep -oE '^\*[a-z-]+\* \*--dir\*' "$MAN/scepd.8.scd" | cut -d'*' -f2 | sort -u)
[ "$(sort -u <<< "$commands")" = "$man_commands" ] \
  || fail "scepd(8) commands differ from scepd --help: $(diff <(sort -u <<< "$commands") <(echo "$man_commands") | grep '^[<>]' | tr '\n' ' ')"
for cmd in $commands; do
  help=$("$SCEPD" "$cmd" --help | options_in_help)
  man=$(man_section "$MAN/scepd.8.scd" "$cmd" | options_in_man)
  [ "$help" = "$man" ] || fail "scepd $cmd: --help and scepd(8) differ: $(diff <(echo "$help") <(echo "$man") | grep '^[<>]' | tr '\n' ' ')"
  for o in $man; do accepted "$SCEPD" "$cmd" "$o" --dir notadir || fail "scepd $cmd does not accept $o, which scepd(8) names"; done
done
ok "scepd: $(wc -w <<< "$commands") commands, each with the options its --help lists and it accepts"

# 3. scep: the same, with the common options (their own section) added to every command.
commands=$("$SCEP" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ "$(wc -w <<< "$commands")" -ge 8 ] || fail "scep --help lists too few commands: $commands"
common=$(awk '/^# COMMON OPTIONS/ { on = 1; next } /^# / { on = 0 } on' "$MAN/scep.1.scd" | options_in_man)
for cmd in $commands; do
  grep -q "^\*$cmd\* " "$MAN/scep.1.scd" || fail "scep(1) has no entry for scep $cmd"
  help=$("$SCEP" "$cmd" --help | options_in_help)
  man=$( (man_section "$MAN/scep.1.scd" "$cmd" | options_in_man; echo "$common") | sort -u)
  [ "$help" = "$man" ] || fail "scep $cmd: --help and scep(1) differ: $(diff <(echo "$help") <(echo "$man") | grep '^[<>]' | tr '\n' ' ')"
  for o in $man; do accepted "$SCEP" "$cmd" "$o" || fail "scep $cmd does not accept $o, which scep(1) names"; done
done
ok "scep: $(wc -w <<< "$commands") commands, each with the options its --help lists and it accepts"

# 4. scepd.conf: the parser's table of settings == scepd.conf(5) == the example.
parser=$(sed -n '/^static const option_row options\[\] = {/,/^};/p' "$ROOT/server/config/config.c" \
  | grep -oE '(\{|[A-Z_]+\()"[a-z0-9_]+"' | grep -oE '"[a-z0-9_]+"' | tr -d '"' | sort -u)
[ "$(wc -w <<< "$parser")" -ge 40 ] || fail "read too few settings from config.c: $parser"
man=$(grep -oE '\*[a-z0-9_]+\* =' "$MAN/scepd.conf.5.scd" | tr -d '*=' | tr -d ' ' | sort -u)
[ "$parser" = "$man" ] || fail "scepd.conf(5) and config.c differ: $(diff <(echo "$parser") <(echo "$man") | grep '^[<>]' | tr '\n' ' ')"
example=$(grep -oE '^# [a-z0-9_]+ = ' "$ROOT/dist/scepd.conf.example" | awk '{ print $2 }' | sort -u)
[ "$parser" = "$example" ] || fail "the example scepd.conf and config.c differ: $(diff <(echo "$parser") <(echo "$example") | grep '^[<>]' | tr '\n' ' ')"
for key in $man; do
  out=$(timeout 10 "$SCEPD" serve --dir notadir --set "$key=" 2>&1 || true)
  ! grep -q "unknown setting" <<< "$out" || fail "scepd does not know $key, which scepd.conf(5) names"
done
mkdir example
sed -n 's/^# \([a-z0-9_]* = .*\)$/\1/p' "$ROOT/dist/scepd.conf.example" > example/scepd.conf
out=$("$SCEPD" pending --dir example 2>&1 || true)
! grep -q "scepd.conf:" <<< "$out" || fail "the uncommented example does not parse: $out"
ok "scepd.conf: $(wc -w <<< "$parser") settings in the parser, scepd.conf(5) and the example, which parses"

# 5. libscep: the exported functions == those libscep(3) describes.
exported=$(nm -D --defined-only "$LIBSCEP" | awk '$3 ~ /^scep_/ { print $3 }' | sort -u)
[ "$(wc -w <<< "$exported")" -ge 40 ] || fail "read too few exports from $LIBSCEP"
man=$(grep -oE '\*scep_[a-z0-9_]+\*\(\)' "$MAN/libscep.3.scd" | tr -d '*()' | sort -u)
[ "$exported" = "$man" ] || fail "libscep(3) and libscep.so differ: $(diff <(echo "$exported") <(echo "$man") | grep '^[<>]' | tr '\n' ' ')"
ok "libscep: the $(wc -w <<< "$exported") exported functions are in libscep(3)"
finish
