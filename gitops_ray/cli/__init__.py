"""The command line: click commands and the renderers (text, JSON, Markdown, JUnit, GitHub).

The only package that knows a terminal. Each command parses flags into the
options of one engine, checks or record function and renders what it returns;
exit codes follow one table (README, `gitops_ray.cli.exitcodes`).
"""
