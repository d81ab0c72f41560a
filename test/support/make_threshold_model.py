"""Build a tiny ONNX segmentation model: a fixed 1×1×1 convolution whose two output channels
compare each voxel with a threshold (class 1 where value > threshold). Usage: out.onnx threshold"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

path, t = sys.argv[1], float(sys.argv[2])
image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, "D", "H", "W"])
logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2, "D", "H", "W"])
weights = numpy_helper.from_array(np.array([-1, 1], dtype=np.float32).reshape(2, 1, 1, 1, 1), "W")
bias = numpy_helper.from_array(np.array([t, -t], dtype=np.float32), "B")
conv = helper.make_node("Conv", ["image", "W", "B"], ["logits"], kernel_shape=[1, 1, 1])
graph = helper.make_graph([conv], "threshold", [image], [logits], [weights, bias])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, path)
