#!/usr/bin/env python3
"""Writes a tool's man page (roff, section 1) from its own help: `TOOL --experimental-dump-help`, the
description swift-argument-parser builds `--help` from. Usage: manpage.py BINARY > TOOL.1"""
import json
import subprocess
import sys
import datetime


def roff(text):
    """Escapes text for roff: backslashes, and a leading dot or quote that would start a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def flag_names(arg):
    names = []
    for n in arg.get("names", []):
        names.append(("-" if n["kind"] == "short" else "--") + n["name"])
    return names


def main():
    binary = sys.argv[1]
    info = json.loads(subprocess.run([binary, "--experimental-dump-help"], check=True,
                                     capture_output=True, text=True).stdout)
    cmd = info["command"]
    name = cmd["commandName"]
    date = datetime.date.today().strftime("%B %Y")
    out = [f'.TH "{name.upper()}" 1 "{date}" "dlgforge" "dlgforge manual"',
           ".SH NAME", f"{roff(name)} \\- {roff(cmd.get('abstract', ''))}",
           ".SH SYNOPSIS", f".B {roff(name)}", "[\\fIOPTIONS\\fR]"]
    if cmd.get("discussion"):
        out += [".SH DESCRIPTION", roff(cmd["discussion"])]
    args = [a for a in cmd.get("arguments", []) if a.get("shouldDisplay", True)]
    if args:
        out.append(".SH OPTIONS")
        for a in args:
            names = flag_names(a) or [a.get("valueName", "")]
            head = ", ".join(f"\\fB{roff(n)}\\fR" for n in names)
            if a["kind"] == "option":
                head += f" \\fI{roff(a.get('valueName', 'value'))}\\fR"
            out += [".TP", head]
            text = a.get("abstract", "")
            if a.get("defaultValue"):
                text += f" (default: {a['defaultValue']})"
            out.append(roff(text))
    out += [".TP", "\\fB\\-h\\fR, \\fB\\-\\-help\\fR", "Show help information.",
            ".SH EXIT STATUS",
            "0 ok, 64 usage, 65 bad input data, 66 no input, 69 service unavailable, 70 internal error, "
            "74 I/O error, 75 temporary failure, 78 bad config, 130 interrupted.",
            ".SH SEE ALSO", "The dlgforge README (configuration keys, modes, examples)."]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
