/* Intel 82540EM (e1000) register offsets, bits and descriptor layouts, as the 8254x
 * Software Developer's Manual names them. Internal to e1000.c and e1000_tx.c. */
#ifndef VSRV_DEVICES_E1000_REGS_H
#define VSRV_DEVICES_E1000_REGS_H

#define E1000_MMIO_SIZE 0x20000 /* BAR0: 128 KiB */
#define E1000_IO_SIZE 0x40      /* BAR1: IOADDR at 0, IODATA at 4 */

/* registers (byte offsets in BAR0) */
#define E1000_CTRL     0x0000
#define E1000_STATUS   0x0008
#define E1000_EECD     0x0010
#define E1000_EERD     0x0014
#define E1000_CTRL_EXT 0x0018
#define E1000_MDIC     0x0020
#define E1000_FCAL     0x0028
#define E1000_FCAH     0x002c
#define E1000_FCT      0x0030
#define E1000_VET      0x0038
#define E1000_ICR      0x00c0
#define E1000_ITR      0x00c4
#define E1000_ICS      0x00c8
#define E1000_IMS      0x00d0
#define E1000_IMC      0x00d8
#define E1000_RCTL     0x0100
#define E1000_FCTTV    0x0170
#define E1000_TXCW     0x0178
#define E1000_RXCW     0x0180
#define E1000_TCTL     0x0400
#define E1000_TIPG     0x0410
#define E1000_LEDCTL   0x0e00
#define E1000_PBA      0x1000
#define E1000_FCRTL    0x2160
#define E1000_FCRTH    0x2168
#define E1000_RDBAL    0x2800
#define E1000_RDBAH    0x2804
#define E1000_RDLEN    0x2808
#define E1000_RDH      0x2810
#define E1000_RDT      0x2818
#define E1000_RDTR     0x2820
#define E1000_RXDCTL   0x2828
#define E1000_RADV     0x282c
#define E1000_RSRPD    0x2c00
#define E1000_TDBAL    0x3800
#define E1000_TDBAH    0x3804
#define E1000_TDLEN    0x3808
#define E1000_TDH      0x3810
#define E1000_TDT      0x3818
#define E1000_TIDV     0x3820
#define E1000_TXDCTL   0x3828
#define E1000_TADV     0x382c
#define E1000_STATS    0x4000 /* 64 read-to-clear counters up to 0x40fc */
#define E1000_RXCSUM   0x5000
#define E1000_MTA      0x5200 /* 128 words */
#define E1000_RA       0x5400 /* 16 pairs RAL, RAH */
#define E1000_VFTA     0x5600 /* 128 words */
#define E1000_WUC      0x5800
#define E1000_WUFC     0x5808
#define E1000_MANC     0x5820

/* statistics, as indices into the counters (offset - E1000_STATS) / 4 */
#define ST_CRCERRS 0x00
#define ST_MPC     0x04
#define ST_PRC64   0x17
#define ST_PRC127  0x18
#define ST_PRC255  0x19
#define ST_PRC511  0x1a
#define ST_PRC1023 0x1b
#define ST_PRC1522 0x1c
#define ST_GPRC    0x1d
#define ST_BPRC    0x1e
#define ST_MPRC    0x1f
#define ST_GPTC    0x20
#define ST_GORCL   0x22
#define ST_GORCH   0x23
#define ST_GOTCL   0x24
#define ST_GOTCH   0x25
#define ST_RNBC    0x28
#define ST_RUC     0x29
#define ST_ROC     0x2b
#define ST_TORL    0x30
#define ST_TORH    0x31
#define ST_TOTL    0x32
#define ST_TOTH    0x33
#define ST_TPR     0x34
#define ST_TPT     0x35
#define ST_PTC64   0x36
#define ST_PTC127  0x37
#define ST_PTC255  0x38
#define ST_PTC511  0x39
#define ST_PTC1023 0x3a
#define ST_PTC1522 0x3b
#define ST_MPTC    0x3c
#define ST_BPTC    0x3d
#define ST_TSCTC   0x3e
#define ST_TSCTFC  0x3f
#define E1000_NSTATS 64

/* CTRL */
#define CTRL_FD      (1u << 0)
#define CTRL_SLU     (1u << 6)
#define CTRL_SPD_1000 (2u << 8)
#define CTRL_RST     (1u << 26)
#define CTRL_VME     (1u << 30)
#define CTRL_PHY_RST (1u << 31)
/* STATUS */
#define STATUS_FD    (1u << 0)
#define STATUS_LU    (1u << 1)
#define STATUS_SPEED_1000 (2u << 6)
#define STATUS_ASDV_1000  (2u << 8)
/* EECD (Microwire bit-bang) */
#define EECD_SK   (1u << 0)
#define EECD_CS   (1u << 1)
#define EECD_DI   (1u << 2)
#define EECD_DO   (1u << 3)
#define EECD_REQ  (1u << 6)
#define EECD_GNT  (1u << 7)
#define EECD_PRES (1u << 8)
#define EECD_WRITABLE (EECD_SK | EECD_CS | EECD_DI | EECD_REQ | (3u << 4) /* FWE */)
#define EE_READ_OPCODE 6 /* start bit 1, opcode 10 */
#define EE_WORDS 64
#define EE_CHECKSUM_SUM 0xbaba
/* EERD */
#define EERD_START (1u << 0)
#define EERD_DONE  (1u << 4)
/* MDIC */
#define MDIC_OP_WRITE (1u << 26)
#define MDIC_OP_READ  (2u << 26)
#define MDIC_READY    (1u << 28)
#define MDIC_ERROR    (1u << 30)
#define PHY_ADDR 1
/* PHY registers (M88E1011) */
#define PHY_CTRL   0
#define PHY_STATUS 1
#define PHY_ID1    2
#define PHY_ID2    3
#define PHY_CTRL_RESET    (1u << 15)
#define PHY_CTRL_AN_RESTART (1u << 9)
/* interrupt causes (ICR, ICS, IMS, IMC) */
#define ICR_TXDW   (1u << 0)
#define ICR_TXQE   (1u << 1)
#define ICR_LSC    (1u << 2)
#define ICR_RXDMT0 (1u << 4)
#define ICR_RXO    (1u << 6)
#define ICR_RXT0   (1u << 7)
#define ICR_MDAC   (1u << 9)
#define ICR_VALID  0x0001f6dfu
/* RCTL */
#define RCTL_EN    (1u << 1)
#define RCTL_UPE   (1u << 3)
#define RCTL_MPE   (1u << 4)
#define RCTL_LPE   (1u << 5)
#define RCTL_RDMTS_SHIFT 8
#define RCTL_MO_SHIFT 12
#define RCTL_BAM   (1u << 15)
#define RCTL_BSIZE_SHIFT 16
#define RCTL_VFE   (1u << 18)
#define RCTL_BSEX  (1u << 25)
#define RCTL_SECRC (1u << 26)
/* RDTR */
#define RDTR_FPD   (1u << 31)
/* TCTL */
#define TCTL_EN    (1u << 1)
/* RXCSUM */
#define RXCSUM_IPOFLD (1u << 8)
#define RXCSUM_TUOFLD (1u << 9)
/* RAH */
#define RAH_AV     (1u << 31)

/* TX descriptors: byte 11 is the command, byte 12 the status */
#define TXD_CMD_EOP  0x01
#define TXD_CMD_IFCS 0x02
#define TXD_CMD_IC   0x04 /* legacy: insert checksum */
#define TXD_CMD_TSE  0x04 /* data/context: TCP segmentation */
#define TXD_CMD_RS   0x08
#define TXD_CMD_DEXT 0x20
#define TXD_CMD_VLE  0x40
#define TXD_CMD_IDE  0x80
#define TXD_TUCMD_TCP 0x01 /* context: TCP (else UDP) */
#define TXD_TUCMD_IP  0x02 /* context: IPv4 (else IPv6) */
#define TXD_DTYP_DATA 1
#define TXD_STAT_DD  0x01
#define TXD_POPTS_IXSM 0x01
#define TXD_POPTS_TXSM 0x02

/* RX descriptor status and errors */
#define RXD_STAT_DD    0x01
#define RXD_STAT_EOP   0x02
#define RXD_STAT_IXSM  0x04
#define RXD_STAT_VP    0x08
#define RXD_STAT_TCPCS 0x20
#define RXD_STAT_IPCS  0x40
#define RXD_ERR_TCPE   0x20
#define RXD_ERR_IPE    0x40

#define E1000_DESC 16

#endif
