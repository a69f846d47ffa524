"""The keyword-spotting chain of the paper (sections 4, 5, 8.1) as pipeline tools:

    synth-speech-commands   SYNTHETIC Speech Commands-layout WAVs (espeak-ng + sox), offline
    ingest-speech-commands  Speech Commands folder / .tar.gz -> HDF5 dataset (12 classes, partitions)
    mfcc                    librosa MFCC 40 x 32 per clip (+ training-set augmentation)
    train-kws               PyTorch CNN / DS-CNN from a layer table -> best model + ONNX
    accuracy-kws            top-1 / per-class / confusion for PyTorch and the LNE bundle, one code path
    deploy-lne              LNE compile + onnxruntime validation + host benchmark

lne.pipeline.tool.BUILTIN_MODULES imports these modules to register the tools; torch, librosa
and h5py load only when a tool runs.
"""
