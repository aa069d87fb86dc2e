// P2PServer: see DESIGN.md §4.
import P2PCore
