public enum MockPlaceholder {}
