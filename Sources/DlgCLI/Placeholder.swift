import DlgCore
