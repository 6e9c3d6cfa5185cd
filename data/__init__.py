"""The data Kindred ships: prompts, crisis resources, phrase rules, reply templates, data statement.

Package data, so a wheel carries it. A server's own copies win file by file: put a file of
the same name in the folder named by `[bot] data_dir` (or `KINDRED_DATA_DIR`).
"""
