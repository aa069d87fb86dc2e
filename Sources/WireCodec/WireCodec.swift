// WireCodec: see DESIGN.md §4.
import P2PCore
