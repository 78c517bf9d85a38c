// onnx-proto is a CommonJS bundle of the ONNX protobuf schema (protobufjs static code);
// this module re-exports its namespace so the rest of the converter imports it once.
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type TensorDataType = (typeof onnx.TensorProto.DataType)[keyof typeof onnx.TensorProto.DataType];
