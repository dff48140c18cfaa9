"""Local mode: runs the pipeline offline against moto.

Subpackages
-----------
bedrock_emulator
    Emulates the Amazon Bedrock evaluation-job control plane (which moto does not implement)
    on top of moto's ``bedrock`` service, for both ``mock_aws()`` and ``ThreadedMotoServer``.
"""
