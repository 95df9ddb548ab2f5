"""Speed measurements of the native engine against Hugging Face ``transformers``, ratios from one run.

- :mod:`~reasonlab.bench.sample`: sampler tokens/s vs ``generate`` (``reasonlab bench sample``);
- :mod:`~reasonlab.bench.train`: training tokens/s and MFU vs a ``transformers`` twin (``reasonlab bench train``).
"""
