"""Deployment: a trial's chosen model exported as ONNX (``facebench export``) and any ONNX face-embedding model
judged on facebench's sets and protocol (``facebench eval model FILE.onnx``). See docs/deploy.md.

onnx, onnxscript and onnxruntime are the optional ``deploy`` extra; nothing here imports them at import time.
"""
