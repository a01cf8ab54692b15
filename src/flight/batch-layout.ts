/**
 * Where a column sits in an Arrow IPC record batch, whatever the other columns of the schema:
 * the field-node and buffer counts of every Arrow type ("Buffer Layout" in the Arrow columnar
 * format; the same counts as apache-arrow's VectorLoader reads).
 */
import { DataType, type Schema, Type, UnionMode } from 'apache-arrow';
import { MetadataVersion, protocolError } from './ipc-flatbuffer.ts';

/** Where the columns a reader wants sit, by their index in its list of names. */
export interface BatchLayout {
  /** The column's field node. */
  node: number[];
  /** The column's first buffer, before counting variadic buffers (see `viewsBefore`). */
  buffer: number[];
  /** View-typed fields (Utf8View, BinaryView) before the column: each adds its variadic buffers. */
  viewsBefore: number[];
  nodeCount: number;
  bufferCount: number;
  viewCount: number;
}

/** Buffers of one field node, its children aside (Arrow columnar format, "Buffer Layout"). */
function ownBufferCount(type: DataType, version: number, name: string): number {
  switch (type.typeId) {
    case Type.Null:
      return 0;
    case Type.Struct:
    case Type.FixedSizeList:
      return 1;
    case Type.Int:
    case Type.Float:
    case Type.Bool:
    case Type.Decimal:
    case Type.Date:
    case Type.Time:
    case Type.Timestamp:
    case Type.Interval:
    case Type.Duration:
    case Type.FixedSizeBinary:
    case Type.Dictionary:
    case Type.List:
    case Type.LargeList:
    case Type.Map:
    case Type.BinaryView:
    case Type.Utf8View:
      return 2;
    case Type.Binary:
    case Type.Utf8:
    case Type.LargeBinary:
    case Type.LargeUtf8:
      return 3;
    case Type.Union:
      // Type ids, offsets when dense, and before V5 a validity bitmap.
      return (
        1 +
        (DataType.isUnion(type) && type.mode === UnionMode.Dense ? 1 : 0) +
        (version < MetadataVersion.V5 ? 1 : 0)
      );
    default:
      throw protocolError(`column '${name}' has a type this reader cannot step over`);
  }
}

/**
 * Where each column named in `names` sits among a record batch's field nodes and buffers, for
 * batches of `schema` at metadata `version`. A batch lists every field of the schema depth
 * first, so the columns before one (extra columns a newer sender added, or a different column
 * order) shift it by however many nodes and buffers their types have.
 */
export function batchLayout(
  schema: Schema,
  version: number,
  names: readonly string[],
): BatchLayout {
  const layout: BatchLayout = {
    node: [],
    buffer: [],
    viewsBefore: [],
    nodeCount: 0,
    bufferCount: 0,
    viewCount: 0,
  };
  const visit = (type: DataType, name: string) => {
    layout.nodeCount++;
    layout.bufferCount += ownBufferCount(type, version, name);
    if (type.typeId === Type.Utf8View || type.typeId === Type.BinaryView) layout.viewCount++;
    // A dictionary column holds only its indices; the values come in dictionary batches.
    if (type.typeId === Type.Dictionary) return;
    for (const child of type.children ?? []) {
      // apache-arrow decodes a nested type whose schema lacks the child all the same.
      if (child?.type === undefined) throw protocolError(`column '${name}' lacks a child type`);
      visit(child.type, name);
    }
  };
  for (const field of schema.fields) {
    const index = names.indexOf(field.name);
    // The first column of a name is the one read, as in `assertStreamPartSchema`.
    if (index >= 0 && layout.node[index] === undefined) {
      layout.node[index] = layout.nodeCount;
      layout.buffer[index] = layout.bufferCount;
      layout.viewsBefore[index] = layout.viewCount;
    }
    visit(field.type, field.name);
  }
  return layout;
}
