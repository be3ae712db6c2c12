#!/usr/bin/env bash
# `pouch slurm script` quotes every argument: run the script it prints with a
# stand-in srun that writes the words it receives, one per line, and compare
# them with the arguments given (spaces, quotes, $, backslashes, globs).
# Needs no Slurm. usage: script_quoting.sh POUCH
set -euo pipefail
pouch=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
args=("--train.name=it's a \$HOME \"run\"" '--data.path=a b/*.bin' 'back\slash' '$(touch injected)' '`x`' '')
"$pouch" slurm script --ntasks=2 --log-dir="$dir/logs dir" --pouch="$dir/my pouch" -- "${args[@]}" > "$dir/job.sh"
mkdir "$dir/bin"
printf '#!/bin/bash\nprintf "%%s\\n" "$@" > "%s/words"\n' "$dir" > "$dir/bin/srun"
chmod +x "$dir/bin/srun"
(cd "$dir" && SLURM_JOB_ID=7 PATH="$dir/bin:$PATH" bash job.sh > job.out)
printf '%s\n' --mpi=pmix --kill-on-bad-exit=1 --open-mode=append "--output=$dir/logs dir/%x-%j-rank%t.out" \
  "$dir/my pouch" train "${args[@]}" --resume=auto > "$dir/want"
diff "$dir/want" "$dir/words" || { echo "FAIL: srun received other words"; exit 1; }
[[ ! -e "$dir/injected" ]] || { echo "FAIL: an argument ran as a command"; exit 1; }
grep -q '^#SBATCH --ntasks=2$' "$dir/job.sh" || { echo "FAIL: no #SBATCH --ntasks=2"; exit 1; }
[[ -d "$dir/logs dir" ]] || { echo "FAIL: the log directory was not created"; exit 1; }
# Errors name the option and the fix.
for bad in "--signal=B:USR1@60" "--stop-signal=HUP" "--launcher=aprun" "--stop-lead=x"; do
  if "$pouch" slurm script "$bad" -- > "$dir/out" 2>&1; then echo "FAIL: $bad accepted"; exit 1; fi
  grep -q -- "${bad%%=*}" "$dir/out" || { echo "FAIL: the error for $bad does not name it: $(cat "$dir/out")"; exit 1; }
done
echo PASS
