package io.syncedstore.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Conversions between app types and JSON with errors that name the offending field. Record
 * components are required unless their type is {@link Optional}; everything else follows
 * {@link Json#mapper()}'s strict settings.
 */
public final class Values {
  private Values() {}

  /**
   * Maps {@code node} to {@code type}, first checking that every required record component is
   * present.
   *
   * @param node the JSON input
   * @param type the target type ({@link JsonNode} accepts any JSON)
   * @param what what the value is, for messages ("input of setTodo", "value of todos/t1")
   * @return the mapped value
   * @throws SyncException {@link ErrorCode#INVALID_INPUT} naming the field
   */
  public static <T> T convert(JsonNode node, Class<T> type, String what) {
    return convert(node, type, what, ErrorCode.INVALID_INPUT);
  }

  /**
   * Like {@link #convert(JsonNode, Class, String)}, reporting problems with {@code code}.
   */
  public static <T> T convert(JsonNode node, Class<T> type, String what, ErrorCode code) {
    if (JsonNode.class.isAssignableFrom(type)) {
      // always the caller's own copy: treeToValue would hand out the stored node itself for ObjectNode etc.
      if (!type.isInstance(node)) {
        throw new SyncException(code, what + ": expected " + simpleName(type) + ", got " + node.getNodeType());
      }
      return type.cast(node.deepCopy());
    }
    String missing = firstMissing(node, type, "");
    if (missing != null) {
      throw new SyncException(code, what + ": field '" + missing + "' is required");
    }
    try {
      return Json.mapper().treeToValue(node, type);
    } catch (UnrecognizedPropertyException e) {
      throw new SyncException(code, what + ": unknown field '" + path(e, e.getPropertyName()) + "'");
    } catch (InvalidFormatException e) {
      throw new SyncException(code, what + ": field '" + path(e, null) + "' has an invalid value " + e.getValue()
          + ", expected " + simpleName(e.getTargetType()));
    } catch (MismatchedInputException e) {
      String field = path(e, null);
      String expected = simpleName(e.getTargetType());
      throw new SyncException(code, field.isEmpty()
          ? what + ": expected " + expected
          : what + ": field '" + field + "' has the wrong type, expected " + expected);
    } catch (JsonProcessingException e) {
      throw new SyncException(code, what + ": " + e.getOriginalMessage());
    } catch (IllegalArgumentException e) {
      // thrown by a record's compact constructor: the app's own validation, its message is the point
      throw new SyncException(code, what + ": " + e.getMessage());
    }
  }

  /**
   * An app value as the store keeps it.
   *
   * @param json the canonical JSON tree, owned by the caller
   * @param size its size as UTF-8 JSON, in bytes
   */
  public record Encoded(JsonNode json, int size) {}

  /**
   * Converts an app value to canonical JSON, refusing anything that is not plain JSON.
   *
   * <p>The value is written out and parsed back with {@link Json#mapper()}, so the tree the store
   * keeps is exactly the tree that recovery will read from the journal (decimals as exact
   * {@code BigDecimal}s, integers in the smallest fitting type), and anything the journal's reader
   * would refuse (a number of more than 1,000 digits, a field name of more than 50,000 chars) is
   * refused now, not after a restart.
   *
   * @param value a record, collection, boxed primitive, string or {@link JsonNode}
   * @param maxDepth the deepest nesting allowed
   * @param what what the value is, for messages
   * @return the canonical tree and its size
   * @throws SyncException {@link ErrorCode#NOT_JSON}
   */
  public static Encoded encode(Object value, int maxDepth, String what) {
    if (value == null) {
      throw new SyncException(ErrorCode.NOT_JSON, what + ": null is not a value; delete the entry instead");
    }
    JsonNode node;
    try {
      node = value instanceof JsonNode n ? n : Json.mapper().valueToTree(value);
    } catch (IllegalArgumentException e) {
      throw new SyncException(ErrorCode.NOT_JSON, what + ": cannot be written as JSON: " + rootMessage(e));
    }
    boolean hasDecimals = checkPlainJson(node, maxDepth, what, 0);
    byte[] bytes = Json.bytes(node);
    if (!hasDecimals) {
      // integers, strings and booleans read back as they are: no need to parse the bytes again
      return new Encoded(node == value ? node.deepCopy() : node, bytes.length);
    }
    try {
      return new Encoded(Json.mapper().readTree(bytes), bytes.length);
    } catch (java.io.IOException e) {
      throw new SyncException(ErrorCode.NOT_JSON, what + ": cannot be stored as JSON: " + rootMessage(e));
    }
  }

  /**
   * Converts an app value to canonical JSON; see {@link #encode}.
   *
   * @param value the value
   * @param maxDepth the deepest nesting allowed
   * @param what what the value is, for messages
   * @return a JSON tree owned by the caller
   */
  public static JsonNode toJson(Object value, int maxDepth, String what) {
    return encode(value, maxDepth, what).json();
  }

  /**
   * Checks that {@code node} holds only finite numbers and is nested at most {@code maxDepth}
   * deep.
   *
   * @throws SyncException {@link ErrorCode#NOT_JSON}
   */
  public static void checkPlainJson(JsonNode node, int maxDepth, String what) {
    checkPlainJson(node, maxDepth, what, 0);
  }

  /** The longest number (in digits) and field name the journal's reader accepts (Jackson's StreamReadConstraints defaults). */
  private static final int MAX_NUMBER_DIGITS = 1000;
  private static final int MAX_NAME_LENGTH = 50_000;

  /** @return whether {@code node} holds decimal numbers, whose stored form must be the parsed one */
  private static boolean checkPlainJson(JsonNode node, int maxDepth, String what, int depth) {
    if (node.isContainerNode()) {
      if (depth >= maxDepth) {
        throw new SyncException(ErrorCode.NOT_JSON, what + ": nested deeper than " + maxDepth + " levels");
      }
      boolean decimals = false;
      if (node.isObject()) {
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> field = it.next();
          if (field.getKey().length() > MAX_NAME_LENGTH) {
            throw new SyncException(ErrorCode.NOT_JSON, what + ": a field name is longer than " + MAX_NAME_LENGTH + " chars");
          }
          decimals |= checkPlainJson(field.getValue(), maxDepth, what, depth + 1);
        }
      } else {
        for (JsonNode child : node) {
          decimals |= checkPlainJson(child, maxDepth, what, depth + 1);
        }
      }
      return decimals;
    }
    if (node.isNumber()) {
      if ((node.isDouble() || node.isFloat()) && !Double.isFinite(node.doubleValue())) {
        throw new SyncException(ErrorCode.NOT_JSON, what + ": " + node.doubleValue() + " is not a JSON number");
      }
      if (node.isBigInteger() || node.isBigDecimal()) {
        int digits = node.isBigInteger() ? node.bigIntegerValue().abs().toString().length() : node.decimalValue().precision();
        if (digits > MAX_NUMBER_DIGITS) {
          throw new SyncException(ErrorCode.NOT_JSON, what + ": a number has more than " + MAX_NUMBER_DIGITS + " digits");
        }
      }
      return node.isFloatingPointNumber();
    }
    if (node.isMissingNode() || node.isPojo() || node.isBinary()) {
      throw new SyncException(ErrorCode.NOT_JSON, what + ": " + node.getNodeType() + " is not JSON");
    }
    return false;
  }

  /** The first required record component missing from {@code node}, as a dotted path. */
  private static String firstMissing(JsonNode node, Type type, String path) {
    Class<?> raw = rawClass(type);
    if (raw == null) {
      return null;
    }
    if (raw.isRecord() && node.isObject()) {
      for (Component c : COMPONENTS.get(raw)) {
        JsonNode child = node.get(c.jsonName());
        String childPath = path.isEmpty() ? c.jsonName() : path + "." + c.jsonName();
        if (child == null || child.isNull()) {
          if (!c.optional()) {
            return childPath;
          }
          continue;
        }
        String missing = firstMissing(child, c.valueType(), childPath);
        if (missing != null) {
          return missing;
        }
      }
    } else if (Collection.class.isAssignableFrom(raw) && node.isArray()) {
      Type element = typeArgument(type, 0);
      int i = 0;
      boolean optionalElements = rawClass(element) == Optional.class;
      for (JsonNode child : node) {
        if (child.isNull() && !optionalElements) {
          return path + "[" + i + "]";
        }
        String missing = firstMissing(child, element, path + "[" + i++ + "]");
        if (missing != null) {
          return missing;
        }
      }
    } else if (Map.class.isAssignableFrom(raw) && node.isObject()) {
      Type valueType = typeArgument(type, 1);
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> field = it.next();
        String missing = firstMissing(field.getValue(), valueType, path.isEmpty() ? field.getKey() : path + "." + field.getKey());
        if (missing != null) {
          return missing;
        }
      }
    }
    return null;
  }

  /**
   * A record component as validation sees it.
   *
   * @param jsonName its JSON field name
   * @param optional whether it is an {@link Optional}
   * @param valueType its type, or the Optional's element type
   */
  private record Component(String jsonName, boolean optional, Type valueType) {}

  /** Record components per class: reflection copies them on every call, and inputs are validated on every mutation. */
  private static final ClassValue<List<Component>> COMPONENTS = new ClassValue<>() {
    @Override
    protected List<Component> computeValue(Class<?> type) {
      List<Component> out = new ArrayList<>();
      for (RecordComponent rc : type.getRecordComponents()) {
        boolean optional = rc.getType() == Optional.class;
        out.add(new Component(jsonName(rc), optional, optional ? typeArgument(rc.getGenericType(), 0) : rc.getGenericType()));
      }
      return List.copyOf(out);
    }
  };

  private static String jsonName(RecordComponent rc) {
    com.fasterxml.jackson.annotation.JsonProperty p = rc.getAnnotation(com.fasterxml.jackson.annotation.JsonProperty.class);
    return p != null && !p.value().isEmpty() ? p.value() : rc.getName();
  }

  private static Class<?> rawClass(Type type) {
    if (type instanceof Class<?> c) {
      return c;
    }
    if (type instanceof ParameterizedType p && p.getRawType() instanceof Class<?> c) {
      return c;
    }
    return null;
  }

  private static Type typeArgument(Type type, int index) {
    if (type instanceof ParameterizedType p && p.getActualTypeArguments().length > index) {
      return p.getActualTypeArguments()[index];
    }
    return Object.class;
  }

  private static String path(JsonMappingException e, String last) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference ref : e.getPath()) {
      if (ref.getFieldName() != null) {
        if (sb.length() > 0) {
          sb.append('.');
        }
        sb.append(ref.getFieldName());
      } else if (ref.getIndex() >= 0) {
        sb.append('[').append(ref.getIndex()).append(']');
      }
    }
    if (sb.length() == 0 && last != null) {
      return last;
    }
    return sb.toString();
  }

  private static String simpleName(Class<?> type) {
    if (type == null) {
      return "another type";
    }
    if (type == String.class || type.isEnum()) {
      return type.isEnum() ? "one of " + java.util.Arrays.toString(type.getEnumConstants()) : "string";
    }
    if (type == boolean.class || type == Boolean.class) {
      return "boolean";
    }
    if (Number.class.isAssignableFrom(type) || (type.isPrimitive() && type != char.class)) {
      return "number (" + type.getSimpleName() + ")";
    }
    if (Collection.class.isAssignableFrom(type) || type.isArray()) {
      return "array";
    }
    return "object (" + type.getSimpleName() + ")";
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t.getMessage();
  }
}
