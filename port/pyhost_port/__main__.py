"""The child-process protocol of `pyhost port`.

stdin: one JSON object
  {"mode": "check" | "fix", "style": "dual" | "py3",
   "files": [{"path": HEX, "label": HEX}], "outdir": HEX}
  Paths are hex-encoded bytes, so a path that is not UTF-8 arrives intact.
stdout, last line: one JSON object
  {"files": [{"lines": N, "findings": [...], "remaining": [...], "changed": BOOL, "error": TEXT | null}]}
  Each finding: {"rule", "line", "column", "detail"?, "auto"?}. With mode
  "fix", a changed file's new bytes are written to OUTDIR/<index>.out and
  its unified diff to OUTDIR/<index>.diff.
"""
import json
import os
import sys
import traceback

from . import rules
from .fix import check, fix, unified_diff
from .source import Source


def path_of(text):
    return os.fsdecode(bytes.fromhex(text))


def process(request):
    table = rules.load()
    outdir = path_of(request['outdir']) if request.get('outdir') else None
    answers = []
    for index, entry in enumerate(request['files']):
        path = path_of(entry['path'])
        answer = {'lines': 0, 'findings': [], 'remaining': [], 'changed': False, 'error': None}
        try:
            with open(path, 'rb') as f:
                data = f.read()
            if request['mode'] == 'check':
                result = check(data, path, table)
            else:
                result = fix(data, path, table, request.get('style', 'dual'))
            answer['lines'] = result.lines
            answer['findings'] = [f.as_json() for f in result.findings]
            answer['remaining'] = [f.as_json() for f in result.remaining]
            if result.output is not None and outdir is not None:
                answer['changed'] = True
                label = os.fsdecode(bytes.fromhex(entry.get('label', entry['path'])))
                with open(os.path.join(outdir, '%d.out' % index), 'wb') as f:
                    f.write(result.output)
                with open(os.path.join(outdir, '%d.diff' % index), 'wb') as f:
                    f.write(unified_diff(data, result.output, label, Source(data).encoding))
        except Exception:
            answer['error'] = traceback.format_exc(limit=-3).strip()
        answers.append(answer)
    return {'files': answers}


def main():
    request = json.loads(sys.stdin.read())
    answer = process(request)
    sys.stdout.write(json.dumps(answer) + '\n')


if __name__ == '__main__':
    main()
