"""The copy-review kit: every handset and SMS text out to a CSV, and reviewed edits back in.

`ussd-app copy export FILE.csv` writes one row per string and language (`catalog.py` finds them
in menus.yaml and ussd_app/sms_texts.yaml, with their review notes and septet budget left);
`ussd-app copy import FILE.csv` checks each edited row and writes the accepted ones back
(`importer.py`), changing only the edited strings' bytes in each file (`yaml_edit.py`).
"""
