#!/usr/bin/env python3
"""Writes a tool's man page (roff, section 1) from its own help: `TOOL --experimental-dump-help`, the
description swift-argument-parser builds `--help` from. Usage: manpage.py BINARY > TOOL.1, where BINARY is
the tool's name as a link to `dlg` (dlg-gen, ...): that name picks the tool."""
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


def options(arguments):
    """The roff of each displayed option or argument: its names, its value, its help and default."""
    out = []
    for a in arguments:
        if not a.get("shouldDisplay", True) or "help" in [n["name"] for n in a.get("names", [])]:
            continue
        names = flag_names(a) or [a.get("valueName", "")]
        head = ", ".join(f"\\fB{roff(n)}\\fR" for n in names)
        if a["kind"] == "option":
            head += f" \\fI{roff(a.get('valueName', 'value'))}\\fR"
        out += [".TP", head]
        text = a.get("abstract", "")
        if a.get("defaultValue"):
            text += f" (default: {a['defaultValue']})"
        out.append(roff(text))
    return out


def main():
    binary = sys.argv[1]
    info = json.loads(subprocess.run([binary, "--experimental-dump-help"], check=True,
                                     capture_output=True, text=True).stdout)
    cmd = info["command"]
    name = cmd["commandName"]
    date = datetime.date.today().strftime("%B %Y")
    # A tool with subcommands (dlg-cluster, dlg-export): each one's options under COMMANDS; the one run when
    # none is named (dlg-export's dataset) is marked so, and the synopsis shows the command as optional.
    subs = [c for c in cmd.get("subcommands", []) if c.get("shouldDisplay", True) and c["commandName"] != "help"]
    default = cmd.get("defaultSubcommand")
    command = "[\\fICOMMAND\\fR]" if default else "\\fICOMMAND\\fR"
    out = [f'.TH "{name.upper()}" 1 "{date}" "dlgforge" "dlgforge manual"',
           ".SH NAME", f"{roff(name)} \\- {roff(cmd.get('abstract', ''))}",
           ".SH SYNOPSIS", f".B {roff(name)}", f"{command} [\\fIOPTIONS\\fR]" if subs else "[\\fIOPTIONS\\fR]"]
    if cmd.get("discussion"):
        out += [".SH DESCRIPTION", roff(cmd["discussion"])]
    out.append(".SH OPTIONS")
    out += options(cmd.get("arguments", []))
    out += [".TP", "\\fB\\-h\\fR, \\fB\\-\\-help\\fR", "Show help information."]
    if subs:
        out.append(".SH COMMANDS")
        for c in subs:
            marker = " (the default)" if c["commandName"] == default else ""
            out += [".SS " + roff(c["commandName"]) + marker, roff(c.get("abstract", ""))]
            if c.get("discussion"):
                out += [".PP", roff(c["discussion"])]
            out += options(c.get("arguments", []))
    out += [".SH EXIT STATUS",
            "0 ok, 64 usage, 65 bad input data, 66 no input, 69 service unavailable, 70 internal error, "
            "74 I/O error, 75 temporary failure, 78 bad config, 130 interrupted.",
            ".SH NOTES", f"The tools are one binary, \\fBdlg\\fR; \\fB{roff(name)}\\fR is a link to it, and "
            f"\\fBdlg {roff(name.removeprefix('dlg-'))}\\fR is the same command.",
            ".SH SEE ALSO", "The dlgforge README (configuration keys, modes, examples)."]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
