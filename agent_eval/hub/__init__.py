"""The Hugging Face Hub: one Job per unit of work (jobs.py), results in a Storage Bucket
(bucket.py), and publishing the table, the report and the traces (publish.py).

May import every stage below it: read/, run/, grade/, store/, suite/.
"""
